import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../src/presence/memory-presence.store.js';
import { RedisPresenceStore } from '../src/presence/redis-presence.store.js';
import type { PresenceEntry } from '../src/protocol/models.js';
import { NodeRegistry } from '../src/redis/node-registry.js';
import { describePresenceStore } from './support/presence-store.contract.js';
import { useRedisClients } from './support/redis-clients.js';
import { hasRedis, redisPrefix } from './support/services.js';
import { eventually } from './support/wait.js';

const redisClient = useRedisClients();

/** A "node": its registry (heartbeat) and its presence store, sharing one prefix with the others. */
async function node(prefix: string, nodeId: string, ttlMs = 60_000, subscribe = false) {
  const redis = redisClient();
  const registry = new NodeRegistry(redis, { prefix, nodeId, ttlMs, heartbeatMs: 1_000_000 });
  await registry.beat();
  const subscriber = subscribe ? redisClient() : undefined;
  const store = new RedisPresenceStore(redis, {
    prefix,
    nodeId,
    nodesKey: registry.key,
    ...(subscriber ? { subscriber } : {}),
  });
  if (subscriber) await new Promise((r) => setTimeout(r, 100)); // SUBSCRIBE sent first
  registry.onDeadNodes((ids) => store.reapNodes(ids).then(() => undefined));
  return { redis, registry, store };
}

// One contract suite (test/support/presence-store.contract.ts) for the memory and Redis stores.
describePresenceStore('memory', () => new MemoryPresenceStore());
if (hasRedis()) {
  describePresenceStore('redis', async () => (await node(redisPrefix('pres'), 'n1')).store);
} else {
  describe.skip('PresenceStore contract: redis (Redis not available)', () =>
    it('skipped', () => undefined));
}

describe.skipIf(!hasRedis())('RedisPresenceStore across nodes', () => {
  const at = () => new Date();

  it('first join and last leave are computed over the sessions of every node', async () => {
    const prefix = redisPrefix('pres2');
    const a = await node(prefix, 'A');
    const b = await node(prefix, 'B');
    expect(await a.store.addSession('o', 'u', 's1', at())).toEqual({ first: true });
    expect(await b.store.addSession('o', 'u', 's2', at())).toEqual({ first: false });
    expect(await a.store.removeSession('o', 'u', 's1', at())).toEqual({ last: false });
    expect((await a.store.get('o', ['u']))[0].status).toBe('online');
    expect(await b.store.removeSession('o', 'u', 's2', at())).toEqual({ last: true });
    expect((await a.store.get('o', ['u']))[0].status).toBe('offline');
  });

  it('concurrent first sessions on two nodes: exactly one is first', async () => {
    const prefix = redisPrefix('pres3');
    const a = await node(prefix, 'A');
    const b = await node(prefix, 'B');
    for (let i = 0; i < 20; i++) {
      const user = `u${i}`;
      const [x, y] = await Promise.all([
        a.store.addSession('o', user, `a${i}`, at()),
        b.store.addSession('o', user, `b${i}`, at()),
      ]);
      expect([x.first, y.first].filter(Boolean)).toHaveLength(1);
    }
  });

  it('a dead node’s sessions stop counting at heartbeat expiry; the reaping node announces who went offline', async () => {
    const prefix = redisPrefix('pres4');
    const a = await node(prefix, 'A', 60_000, true);
    const dying = await node(prefix, 'D', 300);
    await dying.store.addSession('o', 'gone', 's1', at());
    await dying.store.addSession('o', 'both', 's2', at());
    await a.store.addSession('o', 'both', 's3', at());
    await dying.store.addSession('o', 'hidden', 's4', at());
    await dying.store.setStatus('o', 'hidden', 'offline', at());
    expect((await a.store.listActive('o')).map((e) => e.userId).sort()).toEqual(['both', 'gone']);
    const expired: Array<[string, PresenceEntry]> = [];
    a.store.onChanged((org, e) => {
      if (e.status === 'offline') expired.push([org, e]);
    });
    // No more heartbeats from D: wait (bounded) until A's registry claims it as dead.
    const reaped = await eventually(
      () => a.registry.reap(),
      (ids) => ids.length > 0,
      5000,
      'A claiming D as dead',
    );
    expect(reaped).toEqual(['D']);
    await eventually(() => expired.length > 0, 2000, 'the offline announcement');
    expect(expired.map(([org, e]) => [org, e.userId, e.status])).toEqual([
      ['o', 'gone', 'offline'],
    ]);
    expect((await a.store.get('o', ['gone', 'both', 'hidden'])).map((e) => e.status)).toEqual([
      'offline',
      'online',
      'offline',
    ]);
    expect((await a.store.listActive('o')).map((e) => e.userId)).toEqual(['both']);
    // Claimed once: another reap finds nothing.
    expect(await a.registry.reap()).toEqual([]);
  });

  it('handOff leaves sessions to the heartbeat; resync writes local sessions back after Redis lost them', async () => {
    const prefix = redisPrefix('pres5');
    const a = await node(prefix, 'A');
    await a.store.addSession('o', 'u1', 's1', at());
    await a.store.addSession('o', 'u2', 's2', at());
    await a.store.removeSession('o', 'u2', 's2', at());
    // Redis "restarted empty" for this prefix.
    const keys = await a.redis.keys(`${prefix}*`);
    await a.redis.del(...keys);
    await a.registry.beat();
    expect((await a.store.get('o', ['u1']))[0].status).toBe('offline');
    await a.store.resync();
    expect((await a.store.get('o', ['u1', 'u2'])).map((e) => e.status)).toEqual([
      'online',
      'offline',
    ]);
    a.store.handOff();
    expect(await a.store.removeSession('o', 'u1', 's1', at())).toEqual({ last: false });
    expect((await a.store.get('o', ['u1']))[0].status).toBe('online');
  });
});

describe.skipIf(!hasRedis())('RedisPresenceStore: ordered announcements (#12 point 11)', () => {
  it('every node hears the same changes in the order Redis applied them; the last one is the truth', async () => {
    const prefix = redisPrefix('pres6');
    const a = await node(prefix, 'A', 60_000, true);
    const b = await node(prefix, 'B', 60_000, true);
    const heard: Record<string, string[]> = { A: [], B: [] };
    a.store.onChanged((_o, e) => heard.A.push(`${e.userId}:${e.status}`));
    b.store.onChanged((_o, e) => heard.B.push(`${e.userId}:${e.status}`));
    // A user hops between nodes: the old session on A closes while a new one opens on B.
    for (let i = 0; i < 30; i++) {
      await a.store.addSession('o', 'hop', `a${i}`, new Date());
      await Promise.all([
        a.store.removeSession('o', 'hop', `a${i}`, new Date()),
        b.store.addSession('o', 'hop', `b${i}`, new Date()),
      ]);
      await b.store.removeSession('o', 'hop', `b${i}`, new Date());
    }
    await a.store.addSession('o', 'hop', 'final', new Date());
    await eventually(
      () => heard.A.at(-1) === 'hop:online' && heard.B.length === heard.A.length,
      3000,
      'both nodes hearing the final online',
    );
    expect(heard.B).toEqual(heard.A);
    // Strictly alternating: never two onlines or two offlines in a row.
    for (let i = 1; i < heard.A.length; i++) expect(heard.A[i]).not.toBe(heard.A[i - 1]);
    expect(heard.A.at(-1)).toBe('hop:online');
    expect((await b.store.get('o', ['hop']))[0].status).toBe('online');
  });

  it('a node whose sessions were reaped (frozen past the TTL) writes them back on resync and announces them online', async () => {
    const prefix = redisPrefix('pres7');
    const a = await node(prefix, 'A', 60_000, true);
    const z = await node(prefix, 'Z', 60_000);
    await z.store.addSession('o', 'zu', 'z1', new Date());
    const heard: string[] = [];
    a.store.onChanged((_o, e) => heard.push(`${e.userId}:${e.status}`));
    // A survivor reaps Z as if its heartbeat had lapsed.
    await a.store.reapNodes(['Z']);
    expect((await a.store.get('o', ['zu']))[0].status).toBe('offline');
    await z.store.resync();
    expect((await a.store.get('o', ['zu']))[0].status).toBe('online');
    const tail = () => heard.slice(heard.indexOf('zu:offline'));
    await eventually(() => tail().length >= 2, 2000, 'the offline and online announcements');
    expect(tail()).toEqual(['zu:offline', 'zu:online']);
  });
});
