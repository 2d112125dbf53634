import type { BucketSpec } from '../config/config.js';

export interface BucketState {
  /** Tokens available (fractional: refill is continuous). */
  tokens: number;
  /** When `tokens` was last computed, ms. */
  updatedAt: number;
}

export interface ConsumeResult {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** Time until one token is back (0 when allowed). */
  retryAfterMs: number;
  state: BucketState;
}

/**
 * Pure token-bucket step: refill since `updatedAt` at one token per `refillIntervalMs`, capped at
 * `maxTokens`, then take one token if there is one. A missing state is a full bucket.
 */
export function consumeToken(
  state: BucketState | undefined,
  spec: BucketSpec,
  now: number,
): ConsumeResult {
  let tokens = spec.maxTokens;
  if (state) {
    const elapsed = Math.max(0, now - state.updatedAt);
    tokens = Math.min(spec.maxTokens, state.tokens + elapsed / spec.refillIntervalMs);
  }
  if (tokens >= 1) {
    tokens -= 1;
    return {
      allowed: true,
      remaining: Math.floor(tokens),
      retryAfterMs: 0,
      state: { tokens, updatedAt: now },
    };
  }
  const retryAfterMs = Math.ceil((1 - tokens) * spec.refillIntervalMs);
  return { allowed: false, remaining: 0, retryAfterMs, state: { tokens, updatedAt: now } };
}

/** Tokens a bucket holds at `now` without taking one. */
export function peekTokens(state: BucketState | undefined, spec: BucketSpec, now: number): number {
  if (!state) return spec.maxTokens;
  return Math.min(
    spec.maxTokens,
    state.tokens + Math.max(0, now - state.updatedAt) / spec.refillIntervalMs,
  );
}
