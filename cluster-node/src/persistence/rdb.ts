/**
 * RDB files: the whole dataset in Redis's RDB format, version 10 (what redis-server 7.0 writes and
 * loads), so a real Redis replica can load what we send and we can load what a real Redis sends.
 *
 *   "REDIS0010"  AUX*  ( SELECTDB n  [RESIZEDB size expires]  ( [EXPIRETIME_MS t] type key value )* )*  EOF  CRC64
 *
 * Values use the shared encoder/decoder of keyspace/serialize.ts (a DUMP payload is one RDB value):
 * we write the plain encodings (string, list, set, hash, zset-2) and read those plus every compact
 * encoding Redis writes (int/LZF strings, intset, listpack, ziplist, quicklist 1 and 2). Streams and
 * module types are not supported: loading a file holding one fails.
 *
 * Writing is incremental: RdbEncoder turns parts into Buffer chunks while keeping the running CRC,
 * so a caller can emit the file slot by slot across event-loop turns (persistence/snapshot.ts).
 */
import { Crc64, RdbReader, BadPayload, encodeValueBody, isSupportedValueType, rdbLen, rdbTypeOf, readValue, MAX_RDB_VERSION } from '../keyspace/serialize';
import type { Db } from '../keyspace/db';
import type { Value } from '../keyspace/values';
import { SLOT_COUNT } from '../../../common/src/slot';
import { REDIS_VERSION } from '../version';

/** RDB version we write (redis-server 7.0's). */
export const RDB_VERSION = 10;

const OP_FUNCTION2 = 0xf5;
const OP_FUNCTION_PRE_GA = 0xf6;
const OP_MODULE_AUX = 0xf7;
const OP_IDLE = 0xf8;
const OP_FREQ = 0xf9;
const OP_AUX = 0xfa;
const OP_RESIZEDB = 0xfb;
const OP_EXPIRETIME_MS = 0xfc;
const OP_EXPIRETIME = 0xfd;
const OP_SELECTDB = 0xfe;
const OP_EOF = 0xff;

// ---------------------------------------------------------------------------------------- writing

function str(parts: string[], s: string): void {
  parts.push(rdbLen(s.length), s);
}

/** AUX field (name, value) pairs written after the header. */
export type RdbAux = ReadonlyArray<readonly [string, string]>;

/** The aux fields redis-server writes, for a dataset of `usedMemory` bytes. */
export function standardAux(usedMemory: number, repl?: { streamDb: number; replId: string; offset: number }): [string, string][] {
  const aux: [string, string][] = [
    ['redis-ver', REDIS_VERSION],
    ['redis-bits', '64'],
    ['ctime', String(Math.floor(Date.now() / 1000))],
    ['used-mem', String(usedMemory)],
  ];
  if (repl) {
    aux.push(['repl-stream-db', String(repl.streamDb)], ['repl-id', repl.replId], ['repl-offset', String(repl.offset)]);
  }
  aux.push(['aof-base', '0']);
  return aux;
}

/**
 * Produces an RDB file as a sequence of Buffer chunks. Callers build parts with the static helpers and
 * turn them into chunks with `chunk()`; the running CRC64 covers every chunk, `end()` closes the file.
 */
export class RdbEncoder {
  private readonly crc = new Crc64();
  /** Bytes produced so far. */
  bytes = 0;

  private emit(s: string): Buffer {
    const b = Buffer.from(s, 'latin1');
    this.crc.update(b);
    this.bytes += b.length;
    return b;
  }

  /** Magic, version and aux fields. */
  header(aux: RdbAux): Buffer {
    const parts = [`REDIS${String(RDB_VERSION).padStart(4, '0')}`];
    for (const [k, v] of aux) {
      parts.push(String.fromCharCode(OP_AUX));
      str(parts, k);
      str(parts, v);
    }
    return this.emit(parts.join(''));
  }

  static selectDb(parts: string[], id: number): void {
    parts.push(String.fromCharCode(OP_SELECTDB), rdbLen(id));
  }

  static resizeDb(parts: string[], size: number, expires: number): void {
    parts.push(String.fromCharCode(OP_RESIZEDB), rdbLen(size), rdbLen(expires));
  }

  /** One key: [EXPIRETIME_MS t] type key value. `expireMs` -1 = no TTL. */
  static keyValue(parts: string[], key: string, v: Value, expireMs: number): void {
    if (expireMs !== -1) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(expireMs));
      parts.push(String.fromCharCode(OP_EXPIRETIME_MS), b.latin1Slice(0, 8));
    }
    parts.push(String.fromCharCode(rdbTypeOf(v)));
    str(parts, key);
    encodeValueBody(v, parts);
  }

  /** Every key of one slot of a db; returns the number of keys written. */
  static slot(parts: string[], db: Db, slot: number): number {
    const keys = db.slotKeys(slot);
    if (keys === undefined) return 0;
    for (const k of keys) RdbEncoder.keyValue(parts, k, db.peek(k)!, db.getExpire(k));
    return keys.size;
  }

  chunk(parts: string[]): Buffer {
    return this.emit(parts.join(''));
  }

  /** EOF opcode and the checksum of everything before it. */
  end(): Buffer {
    const eof = this.emit(String.fromCharCode(OP_EOF));
    return Buffer.concat([eof, this.crc.bytes()]);
  }
}

/** The whole dataset as one RDB image, synchronously (tests, small datasets). */
export function writeRdb(dbs: readonly Db[], aux: RdbAux): Buffer {
  const enc = new RdbEncoder();
  const out: Buffer[] = [enc.header(aux)];
  for (const db of dbs) {
    if (db.size === 0) continue;
    const parts: string[] = [];
    RdbEncoder.selectDb(parts, db.id);
    RdbEncoder.resizeDb(parts, db.size, db.expires.size);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      RdbEncoder.slot(parts, db, slot);
      if (parts.length > 4096) out.push(enc.chunk(parts.splice(0)));
    }
    out.push(enc.chunk(parts));
  }
  out.push(enc.end());
  return Buffer.concat(out);
}

// ---------------------------------------------------------------------------------------- reading

export class RdbLoadError extends Error {}

export interface RdbLoadResult {
  version: number;
  aux: Map<string, string>;
  /** Keys inserted. */
  keys: number;
  /** Keys skipped: already expired (when dropExpired) or empty collections. */
  skipped: number;
  /** Function libraries present in the file (not supported here: skipped). */
  functionsSkipped: number;
}

export interface RdbLoadOptions {
  /** Skip keys whose TTL has passed (a primary loading its file); replicas keep them (their primary DELs them). */
  dropExpired: boolean;
  now: number;
}

/** Check the file magic and version; returns the version. */
export function rdbVersion(buf: Buffer): number {
  if (buf.length < 9 || buf.latin1Slice(0, 5) !== 'REDIS') throw new RdbLoadError('Wrong signature trying to load DB from file');
  const v = buf.latin1Slice(5, 9);
  if (!/^\d{4}$/.test(v)) throw new RdbLoadError('Wrong signature trying to load DB from file');
  const n = Number(v);
  if (n < 1 || n > MAX_RDB_VERSION) throw new RdbLoadError(`Can't handle RDB format version ${n}`);
  return n;
}

/**
 * Load an RDB image into `dbs`, which the caller has emptied. Verifies the trailing CRC64 (unless it
 * is zero, as Redis writes with rdbchecksum off). Throws RdbLoadError; keys inserted before the error
 * stay (callers flush on failure).
 */
export function loadRdb(buf: Buffer, dbs: readonly Db[], opts: RdbLoadOptions): RdbLoadResult {
  const version = rdbVersion(buf);
  const r = new RdbReader(buf, 9, buf.length);
  const res: RdbLoadResult = { version, aux: new Map(), keys: 0, skipped: 0, functionsSkipped: 0 };
  let db: Db = dbs[0];
  let expire = -1;
  try {
    for (;;) {
      const type = r.byte();
      switch (type) {
        case OP_EXPIRETIME_MS:
          expire = r.int64();
          continue;
        case OP_EXPIRETIME:
          expire = r.uint32() * 1000;
          continue;
        case OP_FREQ:
          r.byte();
          continue;
        case OP_IDLE:
          r.len();
          continue;
        case OP_SELECTDB: {
          const id = r.len();
          if (id >= dbs.length) {
            throw new RdbLoadError(`FATAL: Data file was created with a Redis server configured to handle more than ${dbs.length} databases.`);
          }
          db = dbs[id];
          continue;
        }
        case OP_RESIZEDB:
          r.len();
          r.len();
          continue;
        case OP_AUX: {
          const k = r.str();
          res.aux.set(k, r.str());
          continue;
        }
        case OP_FUNCTION2:
          r.str();
          res.functionsSkipped++;
          continue;
        case OP_FUNCTION_PRE_GA:
          throw new RdbLoadError('Pre-release function format not supported');
        case OP_MODULE_AUX:
          throw new RdbLoadError('The RDB file contains module AUX data, which is not supported');
        case OP_EOF:
          break;
        default: {
          if (!isSupportedValueType(type)) {
            throw new RdbLoadError(`The RDB file contains a value of type ${type} (streams and module types are not supported)`);
          }
          const key = r.str();
          const v = readValue(r, type);
          const when = expire;
          expire = -1;
          if (typeof v !== 'string' && v.size === 0) {
            res.skipped++;
            continue;
          }
          if (opts.dropExpired && when !== -1 && when < opts.now) {
            res.skipped++;
            continue;
          }
          if (db.peek(key) !== undefined) throw new RdbLoadError(`RDB has duplicated key '${key}' in DB ${db.id}`);
          db.set(key, v);
          if (typeof v !== 'string') db.account(key, v);
          if (when !== -1) db.setExpire(key, when);
          res.keys++;
          continue;
        }
      }
      break;
    }
    if (version >= 5) {
      const eofEnd = r.pos;
      if (eofEnd + 8 > buf.length) throw new RdbLoadError('Short read: missing checksum');
      const stored = buf.subarray(eofEnd, eofEnd + 8);
      if (!stored.equals(Buffer.alloc(8))) {
        const crc = new Crc64();
        crc.update(buf, 0, eofEnd);
        if (!crc.bytes().equals(stored)) throw new RdbLoadError('Wrong RDB checksum. Aborting now.');
      }
    }
  } catch (e) {
    if (e instanceof BadPayload || e instanceof RangeError) throw new RdbLoadError(`Bad RDB data at byte ${r.pos}: ${e.message}`);
    throw e;
  }
  return res;
}
