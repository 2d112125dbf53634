import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../src/rate-limit/memory-rate-limit.store.js';
import type { RateLimitStore } from '../src/rate-limit/rate-limit.store.js';
import { RedisRateLimitStore } from '../src/rate-limit/redis-rate-limit.store.js';
import { hasRedis, redisPrefix, REDIS_TEST_URL } from './support/services.js';
import { eventually } from './support/wait.js';

interface Variant {
  name: string;
  make: () => { store: RateLimitStore; done: () => Promise<void> };
  skip: boolean;
}

const redisClients: Redis[] = [];
const variants: Variant[] = [
  {
    name: 'memory',
    skip: false,
    make: () => {
      const store = new MemoryRateLimitStore();
      return { store, done: () => store.close() };
    },
  },
  {
    name: 'redis',
    skip: !hasRedis(),
    make: () => {
      const redis = new Redis(REDIS_TEST_URL);
      redis.on('error', () => undefined);
      redisClients.push(redis);
      const store = new RedisRateLimitStore(redis, { prefix: redisPrefix('rl') });
      return { store, done: () => store.close() };
    },
  },
];

afterAll(async () => {
  await Promise.all(redisClients.map((r) => r.quit()));
});

describe.each(variants)('RateLimitStore: $name', ({ make, skip }) => {
  it.skipIf(skip)(
    'allows a burst of maxTokens, then refuses with retryAfterMs ≈ one refill',
    async () => {
      const { store, done } = make();
      const spec = { maxTokens: 10, refillIntervalMs: 6000 };
      const results = [];
      for (let i = 0; i < 11; i++) results.push(await store.consume('user:u1:message:send', spec));
      expect(results.slice(0, 10).every((r) => r.allowed)).toBe(true);
      expect(results.map((r) => r.remaining).slice(0, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      const refused = results[10];
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBe(0);
      expect(refused.retryAfterMs).toBeGreaterThan(5000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(6000);
      await done();
    },
  );

  it.skipIf(skip)('keeps buckets apart per key', async () => {
    const { store, done } = make();
    const spec = { maxTokens: 1, refillIntervalMs: 60_000 };
    expect((await store.consume('user:a:ping', spec)).allowed).toBe(true);
    expect((await store.consume('user:a:ping', spec)).allowed).toBe(false);
    expect((await store.consume('user:b:ping', spec)).allowed).toBe(true);
    expect((await store.consume('user:a:subscribe', spec)).allowed).toBe(true);
    await done();
  });

  it.skipIf(skip)('refills one token after retryAfterMs, not before', async () => {
    const { store, done } = make();
    const spec = { maxTokens: 2, refillIntervalMs: 300 };
    await store.consume('k', spec);
    await store.consume('k', spec);
    const t0 = Date.now();
    const refused = await store.consume('k', spec);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(200);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(300);
    expect(await store.peek('k', spec)).toBe(0);
    await eventually(
      () => store.peek('k', spec),
      (n) => n >= 1,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(refused.retryAfterMs - 50);
    expect((await store.consume('k', spec)).allowed).toBe(true);
    await done();
  });

  it.skipIf(skip)('is atomic under concurrent consumers: exactly maxTokens succeed', async () => {
    const { store, done } = make();
    const spec = { maxTokens: 25, refillIntervalMs: 600_000 };
    const results = await Promise.all(
      Array.from({ length: 100 }, () => store.consume('burst', spec)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
    await done();
  });

  it.skipIf(skip)('peek does not take a token; reset drops exactly the named buckets', async () => {
    const { store, done } = make();
    const spec = { maxTokens: 3, refillIntervalMs: 600_000 };
    const u9 = (event: string) => `user:{o:u9}:${event}`;
    expect(await store.peek(u9('message:send'), spec)).toBe(3);
    expect(await store.peek(u9('message:send'), spec)).toBe(3);
    await store.consume(u9('message:send'), spec);
    await store.consume(u9('message:edit'), spec);
    await store.consume('user:{o:u90}:message:send', spec);
    await store.consume('ip:10.0.0.9:handshake', spec);
    expect(await store.peek(u9('message:send'), spec)).toBe(2);
    // A name never used counts nothing; a name given twice counts once.
    const names = [u9('message:send'), u9('message:edit'), u9('ping'), u9('message:send')];
    expect(await store.reset(names)).toBe(2);
    expect(await store.peek(u9('message:send'), spec)).toBe(3);
    expect(await store.peek(u9('message:edit'), spec)).toBe(3);
    expect(await store.peek('user:{o:u90}:message:send', spec)).toBe(2);
    // Names of different hash tags (or none) in one call: each group on its own.
    expect(
      await store.reset(['user:{o:u90}:message:send', 'ip:10.0.0.9:handshake', 'absent']),
    ).toBe(2);
    expect(await store.peek('ip:10.0.0.9:handshake', spec)).toBe(3);
    expect(await store.reset([])).toBe(0);
    await done();
  });
});

describe.skipIf(!hasRedis())('RedisRateLimitStore specifics', () => {
  it('uses Redis server time and expiring keys under the prefix', async () => {
    const redis = new Redis(REDIS_TEST_URL);
    redis.on('error', () => undefined);
    const prefix = redisPrefix('rlx');
    const store = new RedisRateLimitStore(redis, { prefix });
    await store.consume('user:u1:ping', { maxTokens: 5, refillIntervalMs: 100 });
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toEqual([`${prefix}user:u1:ping`]);
    const ttl = await store.ttl('user:u1:ping');
    expect(ttl).toBeGreaterThan(29 * 60 * 1000);
    expect(ttl).toBeLessThanOrEqual(30 * 60 * 1000);
    const [sec] = await redis.time();
    const ts = Number(await redis.hget(`${prefix}user:u1:ping`, 'ts'));
    expect(Math.abs(ts - Number(sec) * 1000)).toBeLessThan(2000);
    await redis.quit();
  });

  it('falls back to node-local buckets instead of throwing while Redis is unreachable', async () => {
    // A client pointed at a closed port, failing fast like the app's command client.
    const redis = new Redis({
      port: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 1000,
      lazyConnect: true,
    });
    redis.on('error', () => undefined);
    const fallbacks: string[] = [];
    const store = new RedisRateLimitStore(redis, {
      prefix: 'x:',
      onFallback: (e) => fallbacks.push(e.name),
    });
    const spec = { maxTokens: 2, refillIntervalMs: 600_000 };
    const r = [
      await store.consume('k', spec),
      await store.consume('k', spec),
      await store.consume('k', spec),
    ];
    expect(r.map((x) => x.allowed)).toEqual([true, true, false]);
    expect(fallbacks.length).toBe(3);
    redis.disconnect();
    await store.close();
  });
});
