/**
 * CLUSTERSCAN (Valkey 9.1) cursors and arguments, shared by the router (router.ts routes a cursor like
 * a key) and the handler (commands/clusterscan.ts). The guarantee and the protocol are described in
 * docs/cluster.md.
 *
 * Cursor: "0" to start, then `<fingerprint>-{<tag>}-<phase>`:
 * - fingerprint: FINGERPRINT (engine version + cursor format id). "0" is accepted too (Valkey's
 *   "cross-slot cursor, not validated": `0-{tag}-0` starts at the tag's slot). Any other well-formed
 *   fingerprint (a cursor made by another engine version) restarts the cursor's slot from its beginning.
 * - tag: a short string whose hash slot is the slot to scan next (slotTag), so the whole cursor hashes
 *   to that slot, like a key: cluster-aware clients and gateways can route it without parsing it.
 * - phase: "0" (the slot has not been scanned yet) or "1.<node>" (<node> = the first 8 characters of the
 *   id of the node that scanned its own keys of the slot while MIGRATING it; what is left are the
 *   migration target's keys).
 */
import crypto from 'node:crypto';
import { SLOT_COUNT, crc16, keyHashSlot, patternHashSlot as patternSlot } from '../../../common/src/slot';
import { VERSION } from '../version';
import { isInt64 } from '../commands/args';

/** Bump when the cursor format or its meaning changes. */
const FORMAT_ID = 'clusterscan-1';

/** 8 hex chars of sha1(engine version, format id). */
export const FINGERPRINT = crypto.createHash('sha1').update(`cluster-node ${VERSION}\0${FORMAT_ID}`).digest('hex').slice(0, 8);

export const INVALID_CURSOR = 'ERR invalid cursor';
const SYNTAX = 'ERR syntax error';
const BAD_SLOT = 'ERR Invalid or out of range slot';
const NOT_INT = 'ERR value is not an integer or out of range';

/** How much of a node id a phase-1 cursor carries. */
const ISSUER_CHARS = 8;

const CURSOR_RE = /^([0-9A-Za-z]{1,40})-\{([^{}]+)\}-(0|1\.[0-9A-Za-z]{1,40})$/;

let tags: string[] | null = null;

/** The shortest base36 string (then smallest in base36 order) hashing to each slot; built on first use. */
export function slotTag(slot: number): string {
  if (tags === null) tags = buildTags();
  return tags[slot]!;
}

function buildTags(): string[] {
  const out = new Array<string>(SLOT_COUNT);
  let missing = SLOT_COUNT;
  for (let len = 1; missing > 0; len++) {
    const end = 36 ** len;
    for (let i = 0; i < end && missing > 0; i++) {
      const s = i.toString(36).padStart(len, '0');
      const slot = crc16(s) & 0x3fff;
      if (out[slot] === undefined) {
        out[slot] = s;
        missing--;
      }
    }
  }
  return out;
}

export interface ScanArgs {
  /** True for cursor "0". */
  start: boolean;
  /** Slot named by a continuing cursor (-1 for "0"). */
  cursorSlot: number;
  /** Phase 1: the (truncated) id of the node that already returned its keys of the migrating slot. */
  issuer: string | null;
  count: number;
  pattern: string | null;
  type: string | null;
  /** SLOT argument, or -1. */
  slot: number;
  /** The one slot every key matching `pattern` hashes to, or -1. */
  matchSlot: number;
}

/** Parse CLUSTERSCAN's argv; an error text when malformed (the handler replies it; the router lets it through). */
export function parseScanArgs(argv: readonly string[]): ScanArgs | string {
  const a: ScanArgs = { start: false, cursorSlot: -1, issuer: null, count: 10, pattern: null, type: null, slot: -1, matchSlot: -1 };
  const cur = argv[1]!;
  if (cur === '0') a.start = true;
  else {
    const m = CURSOR_RE.exec(cur);
    if (m === null) return INVALID_CURSOR;
    a.cursorSlot = keyHashSlot(cur);
    const fp = m[1]!;
    // A cursor from another engine version (or format) restarts its slot: its phase means nothing here.
    if ((fp === FINGERPRINT || fp === '0') && m[3] !== '0') a.issuer = m[3]!.slice(2);
  }
  for (let i = 2; i < argv.length; i += 2) {
    const opt = argv[i]!.toUpperCase();
    const val = argv[i + 1];
    if (val === undefined) return SYNTAX;
    if (opt === 'COUNT') {
      if (!isInt64(val)) return NOT_INT;
      a.count = Number(val);
      if (a.count < 1) return SYNTAX;
    } else if (opt === 'MATCH') {
      a.pattern = val === '*' ? null : val;
    } else if (opt === 'TYPE') {
      a.type = val.toLowerCase();
    } else if (opt === 'SLOT') {
      const n = /^\d{1,5}$/.test(val) ? Number(val) : -1;
      if (n < 0 || n >= SLOT_COUNT) return BAD_SLOT;
      a.slot = n;
    } else return SYNTAX;
  }
  if (a.pattern !== null) a.matchSlot = patternSlot(a.pattern);
  if (a.slot >= 0 && !a.start && a.cursorSlot !== a.slot) return INVALID_CURSOR;
  return a;
}

/** The only slot this scan covers (SLOT n, or the slot of a MATCH pattern's literal hash tag), or -1. */
function pinnedSlot(a: ScanArgs): number {
  return a.slot >= 0 ? a.slot : a.matchSlot;
}

/**
 * Where this call starts: a slot, and whether that slot is in phase 1 (`issuer`). null when nothing
 * is left to scan (SLOT and a MATCH tag name different slots, or the cursor is past a MATCH tag's slot).
 */
export function scanTarget(a: ScanArgs): { slot: number; issuer: string | null } | null {
  if (a.slot >= 0 && a.matchSlot >= 0 && a.slot !== a.matchSlot) return null;
  const pin = pinnedSlot(a);
  if (a.start) return { slot: pin >= 0 ? pin : 0, issuer: null };
  if (pin >= 0 && a.cursorSlot !== pin) {
    // Only MATCH can get here (SLOT mismatches are invalid): jump to its slot, or finish past it.
    return a.cursorSlot < pin ? { slot: pin, issuer: null } : null;
  }
  return { slot: a.cursorSlot, issuer: a.issuer };
}

/** The slot after `slot` in this scan's order, or SLOT_COUNT when done. */
export function nextSlot(a: ScanArgs, slot: number): number {
  return pinnedSlot(a) >= 0 ? SLOT_COUNT : slot + 1;
}

/** Cursor naming `slot` (SLOT_COUNT: "0", done); phase 1 when `issuer` (a node id) is given. */
export function formatCursor(slot: number, issuer: string | null = null): string {
  if (slot >= SLOT_COUNT) return '0';
  return `${FINGERPRINT}-{${slotTag(slot)}}-${issuer === null ? '0' : `1.${issuer.slice(0, ISSUER_CHARS)}`}`;
}

/** True if a phase-1 cursor's issuer is the node with this id. */
export function issuedBy(issuer: string, nodeId: string): boolean {
  return issuer === nodeId.slice(0, ISSUER_CHARS);
}

