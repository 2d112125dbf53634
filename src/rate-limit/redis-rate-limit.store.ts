import type { RedisClient } from '../redis/redis.connections.js';
import type { BucketSpec } from '../config/config.js';
import { BUCKET_IDLE_MS, type RateLimitStore } from './rate-limit.store.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import type { ConsumeResult } from './token-bucket.js';

/**
 * The bucket step of token-bucket.ts as ONE Lua script, so check-and-take is atomic across
 * sockets and nodes. The clock is Redis' own (TIME), so nodes with skewed clocks agree. The key
 * expires after the idle period (30 min, §7): an idle bucket is simply gone, i.e. full.
 *
 * KEYS[1] bucket hash {tokens, ts}; ARGV maxTokens, refillIntervalMs, idleMs, mode ("take"|"peek").
 * Returns {allowed 0|1, whole tokens left, retryAfterMs, tokens as a string}.
 */
const BUCKET_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxTokens = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local idle = tonumber(ARGV[3])
local tokens = maxTokens
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
if h[1] and h[2] then
  local elapsed = now - tonumber(h[2])
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(maxTokens, tonumber(h[1]) + elapsed / interval)
end
if ARGV[4] == 'peek' then
  return {0, math.floor(tokens), 0, tostring(tokens)}
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * interval)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], idle)
return {allowed, math.floor(tokens), retry, tostring(tokens)}
`;

type ScriptReply = [number, number, number, string];

interface BucketCommands {
  wcrBucket(
    key: string,
    maxTokens: number,
    interval: number,
    idleMs: number,
    mode: 'take' | 'peek',
  ): Promise<ScriptReply>;
}

export interface RedisRateLimitStoreOptions {
  /** Prefix of every bucket key (config.redis.keyPrefix + "rl:"). */
  prefix: string;
  idleMs?: number;
  /** Called when Redis fails and the node falls back to its own buckets (fail open per node). */
  onFallback?: (err: Error) => void;
  /**
   * After a command timed out (a hung Redis), the node-local buckets answer for this long
   * without asking Redis, so a hang costs one command timeout per window instead of one per
   * event. Default 1000 ms.
   */
  bypassAfterTimeoutMs?: number;
}

/**
 * Buckets in Redis shared by every node. While Redis is unreachable the node does not refuse
 * everything (and never throws into the gateway): it limits with node-local buckets until Redis
 * answers again, which keeps the limit per node instead of per cluster for that time.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly fallback = new MemoryRateLimitStore();
  private readonly prefix: string;
  private readonly idleMs: number;
  /** Until when the local buckets answer without asking Redis (after a command timed out). */
  private bypassUntil = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisRateLimitStoreOptions,
  ) {
    this.prefix = options.prefix;
    this.idleMs = options.idleMs ?? BUCKET_IDLE_MS;
    if (!(redis as unknown as Partial<BucketCommands>).wcrBucket) {
      redis.defineCommand('wcrBucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
    }
  }

  private get cmd(): BucketCommands {
    return this.redis as unknown as BucketCommands;
  }

  async consume(key: string, spec: BucketSpec): Promise<Omit<ConsumeResult, 'state'>> {
    if (this.bypassUntil !== 0) {
      if (Date.now() < this.bypassUntil) return this.fallback.consume(key, spec);
      this.bypassUntil = 0;
    }
    try {
      const [allowed, remaining, retryAfterMs] = await this.cmd.wcrBucket(
        this.prefix + key,
        spec.maxTokens,
        spec.refillIntervalMs,
        this.idleMs,
        'take',
      );
      return { allowed: allowed === 1, remaining, retryAfterMs };
    } catch (err) {
      if ((err as Error).message === 'Command timed out')
        this.bypassUntil = Date.now() + (this.options.bypassAfterTimeoutMs ?? 1000);
      this.options.onFallback?.(err as Error);
      return this.fallback.consume(key, spec);
    }
  }

  async peek(key: string, spec: BucketSpec): Promise<number> {
    const [, whole] = await this.cmd.wcrBucket(
      this.prefix + key,
      spec.maxTokens,
      spec.refillIntervalMs,
      this.idleMs,
      'peek',
    );
    return whole;
  }

  /**
   * Deletes the named buckets without SCAN: one UNLINK per hash tag. A user's buckets share the
   * tag `{<org>:<user>}` (userBucketPrefix), so resetting a user is one command on the master of
   * that user's slot — also on a Redis Cluster, which refuses a multi-key command across slots
   * (CROSSSLOT) and where SCAN would see one master only. Keys of different tags (or none) go in
   * separate commands, so any list of names is safe in both modes.
   */
  async reset(keys: readonly string[]): Promise<number> {
    const groups = new Map<string, string[]>();
    for (const key of new Set(keys)) {
      const full = this.prefix + key;
      const tag = hashTagOf(full);
      const group = groups.get(tag);
      if (group) group.push(full);
      else groups.set(tag, [full]);
    }
    const counts = await Promise.all([...groups.values()].map((g) => this.redis.unlink(...g)));
    await this.fallback.reset(keys);
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Milliseconds until the bucket key expires (for tests and operators); -2 when absent. */
  ttl(key: string): Promise<number> {
    return this.redis.pttl(this.prefix + key);
  }

  async close(): Promise<void> {
    await this.fallback.close();
  }
}

/**
 * The part of a key that picks its Redis Cluster slot: the text between the first `{` and the
 * next `}` when it is not empty, else the whole key (the Redis Cluster rule). Keys with the same
 * result are in the same slot.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}
