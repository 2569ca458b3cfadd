/**
 * The clocks the cluster layer reads, behind one interface so that tests and the simulation can drive
 * them. Lease, failure-detection and failover timing are durations measured on one node's monotonic
 * clock: the wall clock can be stepped (NTP, an operator, a VM restored from a snapshot), and a step back
 * would extend a primary's write lease, a step forward would make the leader think a lease ran out.
 * No timestamp taken on one node is compared with another node's clock.
 *
 * The wall clock is kept for what users see (CLUSTER NODES pong-recv, INFO), and lease.ts uses it only
 * to end a lease sooner, never later: Linux's monotonic clock does not advance while the whole host is
 * suspended, while the wall clock is corrected on resume.
 */

export interface Clock {
  /** Milliseconds from an arbitrary origin of this process; never goes back and is not stepped. */
  monoMs(): number;
  /** Wall-clock time (ms since the epoch, Date.now()); may jump either way. */
  wallMs(): number;
}

/** One moment read on both clocks of a node. */
export interface Instant {
  mono: number;
  wall: number;
}

export const systemClock: Clock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
};

export function instant(clock: Clock): Instant {
  return { mono: clock.monoMs(), wall: clock.wallMs() };
}
