import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { userKeyString } from '../src/protocol/user-key.js';
import { NodeRegistry } from '../src/redis/node-registry.js';
import {
  MemoryConnectionCounter,
  type ConnectionCounter,
} from '../src/connection-cap/connection-counter.js';
import { RedisConnectionCounter } from '../src/connection-cap/redis-connection-counter.js';
import { freePort } from './support/process.js';
import { useRedisClients } from './support/redis-clients.js';
import { hasRedis, redisPrefix } from './support/services.js';
import { eventually } from './support/wait.js';

/**
 * The ConnectionCounter port (WS_MAX_CONNECTIONS_PER_USER, §12.3): one contract both
 * implementations pass — memory (one node) and Redis (across nodes, on the shared 127.0.0.1:6379
 * with a key prefix of this run). Then what only the Redis counter has: slots shared by nodes,
 * a dead node's slots no longer counting and reaped, fail-open and resync (§12.8).
 */

const redisClient = useRedisClients();

/** A node of the Redis counter: its registry (one heartbeat, no timer) and its counter. */
async function redisNode(prefix: string, nodeId: string, ttlMs = 60_000) {
  const redis = redisClient();
  const registry = new NodeRegistry(redis, { prefix, nodeId, ttlMs, heartbeatMs: 1_000_000 });
  await registry.beat();
  const counter = new RedisConnectionCounter(redis, {
    prefix,
    nodeId,
    nodesKey: registry.key,
  });
  return { redis, registry, counter };
}

interface Variant {
  name: string;
  skip: boolean;
  /** A fresh counter with nothing held (the Redis one on a key prefix of its own). */
  make: () => Promise<ConnectionCounter>;
}

const variants: Variant[] = [
  { name: 'memory', skip: false, make: () => Promise.resolve(new MemoryConnectionCounter()) },
  {
    name: 'redis',
    skip: !hasRedis(),
    make: async () => (await redisNode(redisPrefix('conn'), 'n1')).counter,
  },
];

/** The user argument as the server passes it: `<org>:<user>` (§12.1). */
const user = (organizationId: string, userId: string) => userKeyString({ organizationId, userId });

describe.each(variants)('ConnectionCounter contract: $name', ({ make, skip }) => {
  const u = user('org-a', 'nurse');

  it.skipIf(skip)(
    'takes slots up to the cap and refuses beyond it; count says how many',
    async () => {
      const c = await make();
      expect(await c.count('/', u)).toBe(0);
      expect(await c.tryAcquire('/', u, 's1', 3)).toBe(true);
      expect(await c.tryAcquire('/', u, 's2', 3)).toBe(true);
      expect(await c.tryAcquire('/', u, 's3', 3)).toBe(true);
      expect(await c.count('/', u)).toBe(3);
      expect(await c.tryAcquire('/', u, 's4', 3)).toBe(false);
      expect(await c.tryAcquire('/', u, 's5', 3)).toBe(false);
      // A refusal takes nothing.
      expect(await c.count('/', u)).toBe(3);
      // The cap is the caller's per call: a lower one refuses while the slots held stay.
      expect(await c.tryAcquire('/', u, 's6', 2)).toBe(false);
      expect(await c.count('/', u)).toBe(3);
      // A higher one admits.
      expect(await c.tryAcquire('/', u, 's7', 4)).toBe(true);
      expect(await c.count('/', u)).toBe(4);
      await c.close();
    },
  );

  it.skipIf(skip)(
    'the same socket id counts once, and is admitted again even at the cap',
    async () => {
      const c = await make();
      expect(await c.tryAcquire('/', u, 's1', 2)).toBe(true);
      expect(await c.tryAcquire('/', u, 's1', 2)).toBe(true);
      expect(await c.count('/', u)).toBe(1);
      expect(await c.tryAcquire('/', u, 's2', 2)).toBe(true);
      expect(await c.tryAcquire('/', u, 's2', 2)).toBe(true);
      expect(await c.tryAcquire('/', u, 's1', 2)).toBe(true);
      expect(await c.count('/', u)).toBe(2);
      expect(await c.tryAcquire('/', u, 's3', 2)).toBe(false);
      await c.close();
    },
  );

  it.skipIf(skip)('a cap of zero refuses every socket', async () => {
    const c = await make();
    expect(await c.tryAcquire('/', u, 's1', 0)).toBe(false);
    expect(await c.count('/', u)).toBe(0);
    await c.close();
  });

  it.skipIf(skip)('release frees exactly that socket: another one takes the slot', async () => {
    const c = await make();
    for (const s of ['s1', 's2', 's3']) expect(await c.tryAcquire('/', u, s, 3)).toBe(true);
    await c.release('/', u, 's2');
    expect(await c.count('/', u)).toBe(2);
    expect(await c.tryAcquire('/', u, 's4', 3)).toBe(true);
    expect(await c.tryAcquire('/', u, 's5', 3)).toBe(false);
    for (const s of ['s1', 's3', 's4']) await c.release('/', u, s);
    expect(await c.count('/', u)).toBe(0);
    // Down to zero and back: the user starts over with the full cap.
    expect(await c.tryAcquire('/', u, 's1', 1)).toBe(true);
    expect(await c.tryAcquire('/', u, 's9', 1)).toBe(false);
    await c.close();
  });

  it.skipIf(skip)(
    'releasing an unknown socket, a user with nothing, or the same socket twice is harmless',
    async () => {
      const c = await make();
      for (const s of ['s1', 's2', 's3']) await c.tryAcquire('/', u, s, 3);
      await c.release('/', u, 'never-acquired');
      await c.release('/', user('org-a', 'nobody'), 'nothing');
      await c.release('/elsewhere', u, 'nothing');
      expect(await c.count('/', u)).toBe(3);
      await c.release('/', u, 's2');
      await c.release('/', u, 's2');
      expect(await c.count('/', u)).toBe(2);
      // The others are still released normally afterwards.
      await c.release('/', u, 's1');
      await c.release('/', u, 's3');
      expect(await c.count('/', u)).toBe(0);
      // A release of a socket that was refused frees nothing either.
      expect(await c.tryAcquire('/', u, 'a', 1)).toBe(true);
      expect(await c.tryAcquire('/', u, 'b', 1)).toBe(false);
      await c.release('/', u, 'b');
      expect(await c.count('/', u)).toBe(1);
      expect(await c.tryAcquire('/', u, 'c', 1)).toBe(false);
      await c.close();
    },
  );

  it.skipIf(skip)(
    'a slot is one (namespace, user, socket): another user releasing the id, or the same id in another namespace, leaves it held',
    async () => {
      const c = await make();
      const other = user('org-a', 'other');
      expect(await c.tryAcquire('/', u, 'x', 2)).toBe(true);
      // Another user's release of the same socket id frees nothing of this user's…
      await c.release('/', other, 'x');
      expect(await c.count('/', u)).toBe(1);
      // …and the holder's own release still frees the slot (it leaked on the old Redis counter).
      await c.release('/', u, 'x');
      expect(await c.count('/', u)).toBe(0);
      // The same socket id on two namespaces holds two slots, each released on its own.
      expect(await c.tryAcquire('/', u, 'y', 2)).toBe(true);
      expect(await c.tryAcquire('/communication', u, 'y', 2)).toBe(true);
      await c.release('/', u, 'y');
      expect(await c.count('/', u)).toBe(0);
      expect(await c.count('/communication', u)).toBe(1);
      await c.release('/communication', u, 'y');
      expect(await c.count('/communication', u)).toBe(0);
      await c.close();
    },
  );

  it.skipIf(skip)(
    'caps are per user and namespace; the same user id in two organizations has two (§12.1)',
    async () => {
      const c = await make();
      const sameIdOtherOrg = user('org-b', 'nurse');
      const otherUser = user('org-a', 'doctor');
      expect(await c.tryAcquire('/', u, 'a1', 1)).toBe(true);
      expect(await c.tryAcquire('/', u, 'a2', 1)).toBe(false);
      expect(await c.tryAcquire('/', sameIdOtherOrg, 'b1', 1)).toBe(true);
      expect(await c.tryAcquire('/', otherUser, 'd1', 1)).toBe(true);
      expect(await c.tryAcquire('/communication', u, 'c1', 1)).toBe(true);
      expect(await c.tryAcquire('/communication', u, 'c2', 1)).toBe(false);
      for (const [ns, key] of [
        ['/', u],
        ['/', sameIdOtherOrg],
        ['/', otherUser],
        ['/communication', u],
      ] as const)
        expect(await c.count(ns, key)).toBe(1);
      expect(await c.count('/communication', sameIdOtherOrg)).toBe(0);
      // Releasing in one organization or namespace leaves the others' slots alone.
      await c.release('/', sameIdOtherOrg, 'b1');
      await c.release('/communication', u, 'c1');
      expect(await c.count('/', u)).toBe(1);
      expect(await c.tryAcquire('/', u, 'a3', 1)).toBe(false);
      expect(await c.tryAcquire('/', sameIdOtherOrg, 'b2', 1)).toBe(true);
      await c.close();
    },
  );

  it.skipIf(skip)('concurrent handshakes of one user: exactly the cap is admitted', async () => {
    const c = await make();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.tryAcquire('/', u, `s${i}`, 5)),
    );
    expect(results.filter(Boolean)).toHaveLength(5);
    expect(await c.count('/', u)).toBe(5);
    await c.close();
  });
});

describe.skipIf(!hasRedis())('RedisConnectionCounter across nodes', () => {
  const u = user('org-x', 'nurse');

  it('the cap counts the sockets of every node; a release on one node frees a slot for all', async () => {
    const prefix = redisPrefix('conn2');
    const a = await redisNode(prefix, 'A');
    const b = await redisNode(prefix, 'B');
    expect(await a.counter.tryAcquire('/', u, 'a1', 3)).toBe(true);
    expect(await b.counter.tryAcquire('/', u, 'b1', 3)).toBe(true);
    expect(await a.counter.tryAcquire('/', u, 'a2', 3)).toBe(true);
    expect(await b.counter.tryAcquire('/', u, 'b2', 3)).toBe(false);
    expect(await a.counter.count('/', u)).toBe(3);
    expect(await b.counter.count('/', u)).toBe(3);
    await a.counter.release('/', u, 'a1');
    expect(await b.counter.count('/', u)).toBe(2);
    expect(await b.counter.tryAcquire('/', u, 'b2', 3)).toBe(true);
    // A node releasing a socket it does not hold frees nothing (another node's slot stays).
    await a.counter.release('/', u, 'b1');
    expect(await a.counter.count('/', u)).toBe(3);
  });

  it('a dead node’s slots stop counting at heartbeat expiry; reaping removes them for good', async () => {
    const prefix = redisPrefix('conn3');
    const a = await redisNode(prefix, 'A');
    const dying = await redisNode(prefix, 'D', 300);
    expect(await dying.counter.tryAcquire('/', u, 'd1', 2)).toBe(true);
    expect(await dying.counter.tryAcquire('/', u, 'd2', 2)).toBe(true);
    expect(await a.counter.tryAcquire('/', u, 'a1', 2)).toBe(false);
    // No more heartbeats from D: its slots stop counting once its entry lapses.
    await eventually(async () => (await a.counter.count('/', u)) === 0, 5000, 'D’s slots lapsing');
    const reaped = await eventually(
      () => a.registry.reap(),
      (ids) => ids.length > 0,
      5000,
      'A claiming D as dead',
    );
    expect(reaped).toEqual(['D']);
    await a.counter.reapNodes(reaped);
    const keys = await a.redis.keys(`${prefix}*conn:*`);
    expect(keys).toEqual([]);
    expect(await a.counter.tryAcquire('/', u, 'a1', 2)).toBe(true);
    expect(await a.counter.tryAcquire('/', u, 'a2', 2)).toBe(true);
    expect(await a.counter.tryAcquire('/', u, 'a3', 2)).toBe(false);
  });

  it('reaping a node drops that node’s slots only; reaping again or an unknown node is harmless', async () => {
    const prefix = redisPrefix('conn4');
    const a = await redisNode(prefix, 'A');
    const b = await redisNode(prefix, 'B');
    await a.counter.tryAcquire('/', u, 'a1', 5);
    await b.counter.tryAcquire('/', u, 'b1', 5);
    await b.counter.tryAcquire('/communication', u, 'b2', 5);
    await a.counter.reapNodes(['B']);
    expect(await a.counter.count('/', u)).toBe(1);
    expect(await a.counter.count('/communication', u)).toBe(0);
    await a.counter.reapNodes(['B', 'never-there']);
    expect(await a.counter.count('/', u)).toBe(1);
  });

  it('resync makes Redis hold exactly the node’s live slots (after Redis lost them, after a restart)', async () => {
    const prefix = redisPrefix('conn5');
    const a = await redisNode(prefix, 'A');
    await a.counter.tryAcquire('/', u, 's1', 5);
    await a.counter.tryAcquire('/communication', u, 's2', 5);
    // Redis "restarted empty" for this prefix: the node writes its sockets back.
    await a.redis.del(...(await a.redis.keys(`${prefix}*`)));
    await a.registry.beat();
    expect(await a.counter.count('/', u)).toBe(0);
    await a.counter.resync();
    expect(await a.counter.count('/', u)).toBe(1);
    expect(await a.counter.count('/communication', u)).toBe(1);
    // The same node id with nothing local (a process that lost its sockets): resync drops them.
    const again = new RedisConnectionCounter(a.redis, {
      prefix,
      nodeId: 'A',
      nodesKey: a.registry.key,
    });
    await again.resync();
    expect(await a.counter.count('/', u)).toBe(0);
    expect(await a.counter.count('/communication', u)).toBe(0);
  });

  it('fails open while Redis is unreachable and asks for a resync', async () => {
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const errors: Error[] = [];
    const c = new RedisConnectionCounter(down, {
      prefix: redisPrefix('conn6'),
      nodeId: 'A',
      nodesKey: 'unused',
      onError: (err) => errors.push(err),
    });
    expect(c.needsResync).toBe(false);
    expect(await c.tryAcquire('/', u, 's1', 1)).toBe(true);
    expect(await c.tryAcquire('/', u, 's2', 1)).toBe(true);
    expect(c.needsResync).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    await c.release('/', u, 's1');
    await c.close();
    down.disconnect();
  });
});
