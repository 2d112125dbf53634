export interface BackoffOptions {
  /** First delay before jitter, ms (default 500). */
  baseDelayMs: number;
  /** Ceiling before jitter, ms (default 30000). */
  maxDelayMs: number;
  /** Share of the delay that is randomised, 0..1 (default 0.5): delay × (1 − jitter × random). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: 0.5,
};

/**
 * Exponential backoff with jitter for reconnect attempt `attempt` (0-based): the ceiling doubles
 * each attempt up to `maxDelayMs`, then a random share of up to `jitter` is taken off so that many
 * clients dropped by the same node restart do not come back in lockstep.
 */
export function backoffDelay(
  attempt: number,
  o: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  const jitter = Math.min(1, Math.max(0, o.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}
