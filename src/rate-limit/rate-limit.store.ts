import type { BucketSpec } from '../config/config.js';
import type { ConsumeResult } from './token-bucket.js';

/** Port: where token buckets live. Memory on one node, Redis (one Lua script) across nodes. */
export interface RateLimitStore {
  consume(key: string, spec: BucketSpec): Promise<Omit<ConsumeResult, 'state'>>;
  /** Whole tokens available now, without taking one. */
  peek(key: string, spec: BucketSpec): Promise<number>;
  /**
   * Drops the named buckets (they are full again); returns how many existed. By name, not by
   * pattern: nothing scans for keys (a Redis Cluster has no cheap "keys starting with").
   */
  reset(keys: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');
/** Idle buckets are dropped after 30 minutes (§7). */
export const BUCKET_IDLE_MS = 30 * 60 * 1000;
