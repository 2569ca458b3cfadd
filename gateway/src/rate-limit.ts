/**
 * Per-token rate limits shared by every gateway process (workers and copies behind a load balancer):
 * a GCRA bucket kept in the cluster itself, one key per token, updated by a Lua script that reads the
 * node's clock (TIME), so no gateway clock is involved. `"scope": "process"` keeps the old in-process
 * bucket (no round trip, but N processes allow N times the rate).
 *
 * GCRA: the key holds the "theoretical arrival time" (TAT, ms). A request at `now` is allowed when
 * max(TAT, now) + interval - now <= burst * interval, and then moves the TAT on by one interval
 * (interval = 1000 / perSecond ms). The key expires when the bucket is full again.
 */
import { createHash } from 'node:crypto';
import { keyHashSlot } from '../../common/src/slot';
import type { ClusterClient } from './cluster/client';

export const GCRA_SCRIPT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now > limit then
  return {0, math.ceil(nextTat - now - limit)}
end
redis.call('SET', KEYS[1], tostring(nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
return {1, 0}`;

const SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

/** The key of a token's bucket (db 0): the token's name hashed, as one hash tag. */
export function rateKey(tokenName: string): string {
  return `gateway:ratelimit:{${createHash('sha1').update(tokenName).digest('hex').slice(0, 16)}}`;
}

export interface RateDecision {
  allowed: boolean;
  /** When refused: ms until one request would be allowed. */
  retryAfterMs: number;
}

export class ClusterRateLimiter {
  /** Per token name: the bucket's key, its slot and the script's arguments (the same on every request). */
  private readonly buckets = new Map<string, { slot: number; args: string[] }>();

  constructor(private readonly client: ClusterClient) {}

  /** Spend one request of `perSecond` with room for `burst` at once. */
  async take(tokenName: string, perSecond: number, burst: number): Promise<RateDecision> {
    let b = this.buckets.get(tokenName);
    if (b === undefined) {
      const key = rateKey(tokenName);
      const interval = 1000 / perSecond;
      b = { slot: keyHashSlot(key), args: [key, String(interval), String(burst * interval)] };
      this.buckets.set(tokenName, b);
    }
    const { slot, args } = b;
    let r: unknown;
    try {
      r = await this.client.send(slot, ['EVALSHA', SHA, '1', ...args], { db: 0, write: true });
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      r = await this.client.send(slot, ['EVAL', GCRA_SCRIPT, '1', ...args], { db: 0, write: true });
    }
    const [ok, wait] = Array.isArray(r) ? (r as unknown[]) : [];
    return { allowed: ok === 1, retryAfterMs: typeof wait === 'number' ? wait : 0 };
  }
}
