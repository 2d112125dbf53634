import type { BucketSpec } from '../config/config.js';
import { BUCKET_IDLE_MS, type RateLimitStore } from './rate-limit.store.js';
import { consumeToken, peekTokens, type BucketState } from './token-bucket.js';

/** Single-node buckets in a Map; a sweep drops buckets idle for 30 minutes. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, BucketState>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly idleMs = BUCKET_IDLE_MS,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, idleMs)).unref();
  }

  consume(key: string, spec: BucketSpec) {
    const { state, ...result } = consumeToken(this.buckets.get(key), spec, this.now());
    this.buckets.set(key, state);
    return Promise.resolve(result);
  }

  peek(key: string, spec: BucketSpec) {
    return Promise.resolve(Math.floor(peekTokens(this.buckets.get(key), spec, this.now())));
  }

  reset(keys: readonly string[]) {
    let n = 0;
    for (const key of new Set(keys)) if (this.buckets.delete(key)) n++;
    return Promise.resolve(n);
  }

  /** Drops buckets untouched for the idle period. */
  sweep(): number {
    const cutoff = this.now() - this.idleMs;
    let n = 0;
    for (const [key, state] of this.buckets) {
      if (state.updatedAt < cutoff) {
        this.buckets.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.buckets.size;
  }

  close() {
    clearInterval(this.sweeper);
    this.buckets.clear();
    return Promise.resolve();
  }
}
