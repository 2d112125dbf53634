import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  connectError,
  ok,
  request,
  settle,
  waitFor,
  type TestSocket,
} from '../support/client.js';
import { http } from '../support/http.js';
import { connectReady } from '../support/realtime.js';
import {
  redisClusterTools,
  startRedisCluster,
  type LocalRedisCluster,
} from '../support/redis-cluster.js';
import { startServer, type TestServer } from '../support/server.js';
import { createTestDatabase, hasPostgres, redisPrefix } from '../support/services.js';
import { signToken } from '../support/tokens.js';

/**
 * Issue 15: three nodes in this process in cluster mode (REDIS_CLUSTER_NODES) on a Redis Cluster
 * of the test's own (3 masters + 3 replicas), sharing one PostgreSQL database. Every behaviour
 * that crosses nodes goes through the cluster: the sharded adapter (messages, typing, alerts and
 * their fetchSockets), presence scripts, shared rate-limit buckets, connection slots and the
 * revocation bus.
 */
const CAP = 3;

describe.skipIf(!hasPostgres() || !redisClusterTools())(
  'three nodes on a Redis Cluster (sharded adapter)',
  () => {
    let redis: LocalRedisCluster | undefined;
    let nodes: TestServer[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    let service: string;
    const prefix = redisPrefix('rc');
    const open: TestSocket[] = [];
    let n = 0;
    const id = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

    beforeAll(async () => {
      const [cluster, db] = await Promise.all([startRedisCluster(), createTestDatabase('rcmulti')]);
      redis = cluster;
      dropDb = db.drop;
      const env = {
        REDIS_CLUSTER_NODES: cluster.seeds,
        REDIS_KEY_PREFIX: prefix,
        WS_MAX_CONNECTIONS_PER_USER: String(CAP),
        LOG_LEVEL: 'info',
      };
      nodes.push(await startServer({ env, databaseUrl: db.url }));
      nodes.push(
        ...(await Promise.all([
          startServer({ env, databaseUrl: db.url }),
          startServer({ env, databaseUrl: db.url }),
        ])),
      );
      service = await signToken({ userId: 'svc', organizationId: 'platform', role: 'service' });
    }, 120_000);
    afterAll(async () => {
      closeAll(...open);
      await Promise.all(nodes.map((s) => s.close()));
      nodes = [];
      await dropDb?.();
      await redis?.stop();
    });

    const [A, B, C] = [0, 1, 2];
    const ready = async (
      node: number,
      user: { userId: string; organizationId: string; role?: string },
      record: Parameters<typeof connectReady>[2] = [],
    ) => {
      const c = await connectReady(nodes[node].url, user, record);
      open.push(c.socket);
      return c;
    };

    it('runs in cluster mode with the sharded adapter', () => {
      for (const node of nodes) {
        expect(node.config.redis?.mode).toBe('cluster');
        expect(node.config.redis?.adapter).toBe('sharded');
      }
    });

    it('a message sent on node A reaches participants on B and C; typing in the room crosses back', async () => {
      const org = id('msg');
      const rec = ['conversation:new', 'message:new', 'message:typing'] as const;
      const alice = await ready(A, { userId: 'alice', organizationId: org }, [...rec]);
      const bob = await ready(B, { userId: 'bob', organizationId: org }, [...rec]);
      const carol = await ready(C, { userId: 'carol', organizationId: org }, [...rec]);
      const outsider = await ready(B, { userId: 'dave', organizationId: org }, [...rec]);
      const { conversation } = await ok(alice.socket, 'conversation:create', {
        participantIds: ['bob', 'carol'],
      });
      for (const c of [bob, carol])
        await c.recorder.until((r) =>
          r.of('conversation:new').some((e) => e.conversation.id === conversation.id),
        );
      const sent: Array<{ id: string; seq: number }> = [];
      for (let i = 0; i < 5; i++)
        sent.push(
          (
            await ok(alice.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: conversation.id,
              content: `across shards ${i}`,
            })
          ).message,
        );
      expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      for (const c of [bob, carol])
        await c.recorder.until(
          (r) => sent.every((m) => r.of('message:new').some((e) => e.message.id === m.id)),
          5000,
          `every message:new on ${c.confirmed.userId}`,
        );
      // Typing goes to the conversation room (one room).
      await ok(alice.socket, 'conversation:join', { conversationId: conversation.id });
      await ok(bob.socket, 'message:typing', { conversationId: conversation.id, isTyping: true });
      await alice.recorder.until((r) =>
        r.of('message:typing').some((e) => e.userId === 'bob' && e.isTyping),
      );
      await settle(outsider.socket);
      expect(outsider.recorder.of('message:new')).toEqual([]);
    });

    it('presence: online on the first session anywhere, offline after the last; the org list is read across nodes', async () => {
      const org = id('pres');
      const watcher = await ready(A, { userId: 'watcher', organizationId: org }, [
        'presence:changed',
      ]);
      const onB = await ready(B, { userId: 'mover', organizationId: org });
      await watcher.recorder.until((r) =>
        r.of('presence:changed').some((p) => p.userId === 'mover' && p.status === 'online'),
      );
      const onC = await ready(C, { userId: 'mover', organizationId: org });
      const q = await ok(onC.socket, 'presence:query', { userIds: ['mover', 'watcher', 'nobody'] });
      expect(q.users.map((u) => [u.userId, u.status])).toEqual([
        ['mover', 'online'],
        ['watcher', 'online'],
        ['nobody', 'offline'],
      ]);
      // Without userIds: the organization's active users (the list script).
      const list = await ok(onC.socket, 'presence:query', {});
      expect(list.users.map((u) => u.userId).sort()).toEqual(['mover', 'watcher']);
      onB.socket.close();
      await ok(onC.socket, 'presence:update', { status: 'away' });
      const moverEvents = () =>
        watcher.recorder.of('presence:changed').filter((p) => p.userId === 'mover');
      await watcher.recorder.until(() => moverEvents().some((p) => p.status === 'away'));
      onC.socket.close();
      await watcher.recorder.until(() => moverEvents().some((p) => p.status === 'offline'));
      expect(moverEvents().map((p) => p.status)).toEqual(['online', 'away', 'offline']);
    });

    it('the 11th message:send in a burst is refused whichever node gets it (one bucket in the cluster)', async () => {
      const org = id('rl');
      const onA = await ready(A, { userId: 'burst', organizationId: org });
      const onB = await ready(B, { userId: 'burst', organizationId: org });
      await ready(C, { userId: 'peer', organizationId: org });
      const { conversation } = await ok(onA.socket, 'conversation:create', {
        participantIds: ['peer'],
      });
      for (let i = 0; i < 10; i++) {
        const s = i % 2 === 0 ? onA : onB;
        const r = await request(s.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conversation.id,
          content: `b${i}`,
        });
        expect(r.ok).toBe(true);
      }
      for (const s of [onA, onB]) {
        const r = await request(s.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conversation.id,
          content: 'eleventh',
        });
        expect(r.ok ? 'ok' : r.error.type).toBe('RATE_LIMIT_EXCEEDED');
      }
    });

    it(`the connection cap (${CAP}) counts sockets on every node; a closed socket frees its slot`, async () => {
      const org = id('cap');
      const t = await signToken({ userId: 'capped', organizationId: org });
      const held = [
        (await connect(nodes[A].url, t)).socket,
        (await connect(nodes[B].url, t)).socket,
        (await connect(nodes[C].url, t)).socket,
      ];
      open.push(...held);
      expect((await connectError(nodes[A].url, t)).message).toBe('RATE_LIMIT_EXCEEDED');
      held[1].close();
      // The release is sent when the server sees the disconnect: poll, bounded.
      const deadline = Date.now() + 5000;
      let again: TestSocket | undefined;
      while (!again && Date.now() < deadline) {
        again = await connect(nodes[C].url, t, { timeoutMs: 2000 }).then(
          (c) => c.socket,
          () => undefined,
        );
      }
      expect(again?.connected).toBe(true);
      open.push(again!);
    });

    it('revocation drops the user’s sessions on every node; every node confirms over the cluster', async () => {
      const org = id('rv');
      const t = await signToken({ userId: 'revoked', organizationId: org });
      const sockets = [
        (await connect(nodes[A].url, t)).socket,
        (await connect(nodes[B].url, t)).socket,
        (await connect(nodes[C].url, t, { namespace: '/communication' })).socket,
      ];
      open.push(...sockets);
      const expired = sockets.map((s) => waitFor(s, 'auth:expired'));
      const res = await http<{
        disconnected: number;
        nodes: { confirmed: number; unreachable: number };
      }>(nodes[B].url, 'POST', '/api/v1/sessions/revoke', {
        token: service,
        body: { userId: 'revoked', organizationId: org },
      });
      expect(res.status).toBe(200);
      for (const e of await Promise.all(expired)) expect(e.type).toBe('AUTHENTICATION_FAILED');
      expect(res.body).toEqual({ disconnected: 3, nodes: { confirmed: 3, unreachable: 0 } });
      const outcome = await connect(nodes[C].url, t).then(
        (c) => (c.socket.close(), 'connected'),
        (e: Error) => e.message,
      );
      expect(outcome).toBe('AUTHENTICATION_FAILED');
    });

    it('an emergency alert reaches recipients on every node and counts them delivered (fetchSockets across nodes)', async () => {
      const org = id('al');
      const r1a = await ready(A, { userId: 'r1', organizationId: org, role: 'nurse' }, [
        'alert:emergency',
      ]);
      const r1b = await ready(B, { userId: 'r1', organizationId: org, role: 'nurse' }, [
        'alert:emergency',
      ]);
      const r2 = await ready(C, { userId: 'r2', organizationId: org, role: 'staff' }, [
        'alert:emergency',
      ]);
      const res = await http<{ alert: { id: string } }>(
        nodes[A].url,
        'POST',
        '/api/v1/alerts/emergency',
        {
          token: service,
          body: { organizationId: org, title: 'Drill', message: 'cluster', severity: 'critical' },
        },
      );
      expect(res.status).toBe(202);
      const alertId = res.body.alert.id;
      for (const c of [r1a, r1b, r2])
        await c.recorder.until((r) => r.of('alert:emergency').some((e) => e.alert.id === alertId));
      // The node that created it asked every node who is connected (adapter fetchSockets).
      const deadline = Date.now() + 5000;
      let delivered = -1;
      while (delivered !== 2 && Date.now() < deadline) {
        const status = await http<{ recipients: { delivered: number } }>(
          nodes[A].url,
          'GET',
          `/api/v1/alerts/${alertId}`,
          { token: service },
        );
        delivered = status.body.recipients.delivered;
        if (delivered !== 2) await new Promise((r) => setTimeout(r, 100));
      }
      expect(delivered).toBe(2);
    });

    it('every coordination key of the deployment lives in one slot; nothing else carries the tag', async () => {
      // A live session (presence, connection slot) and a message (rate-limit bucket) right now.
      const org = id('keys');
      const holder = await ready(A, { userId: 'holder', organizationId: org });
      await ready(B, { userId: 'peer', organizationId: org });
      const { conversation } = await ok(holder.socket, 'conversation:create', {
        participantIds: ['peer'],
      });
      await ok(holder.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content: 'bucket',
      });
      const client = new Cluster(
        redis!.seeds.split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
      );
      client.on('error', () => undefined);
      try {
        await new Promise((resolve) => client.once('ready', resolve));
        const keys: string[] = [];
        for (const master of client.nodes('master')) {
          let cursor = '0';
          do {
            const [next, batch] = await master.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            keys.push(...batch);
            cursor = next;
          } while (cursor !== '0');
        }
        const tag = `${prefix}{${prefix}}`;
        const coordination = keys.filter((k) => k.startsWith(tag));
        expect(coordination).toContain(`${tag}nodes`);
        expect(coordination.some((k) => k.startsWith(`${tag}presence:`))).toBe(true);
        expect(coordination.some((k) => k.startsWith(`${tag}conn:`))).toBe(true);
        const slots = new Set(
          await Promise.all(coordination.map((k) => client.cluster('KEYSLOT', k))),
        );
        expect(slots.size).toBe(1);
        // Rate-limit buckets are untagged: spread by their own names.
        const buckets = keys.filter((k) => !k.startsWith(tag));
        expect(buckets.length).toBeGreaterThan(0);
        expect(buckets.every((k) => !k.includes('{'))).toBe(true);
      } finally {
        client.disconnect();
      }
    });
  },
);
