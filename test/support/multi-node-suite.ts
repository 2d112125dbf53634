import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerEventSpec } from '../../src/protocol/events.js';
import {
  closeAll,
  connect,
  connectError,
  ok,
  request,
  settle,
  waitFor,
  type TestSocket,
} from './client.js';
import { http } from './http.js';
import { CAP } from './cluster.js';
import { connectReady } from './realtime.js';
import { startServer, type TestServer } from './server.js';
import { createTestDatabase, redisPrefix } from './services.js';
import { signToken } from './tokens.js';

/** What three nodes share besides PostgreSQL: one Redis, or a Redis Cluster. */
export interface MultiNodeBackend {
  /** Starts it (when it is the test's own) and returns the nodes' Redis settings. */
  start(prefix: string): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
}

/** What backend-specific tests get (`extra`), read once the nodes run. */
export interface MultiNodeContext {
  readonly nodes: TestServer[];
  readonly prefix: string;
  readonly open: TestSocket[];
  ready: (
    node: number,
    user: { userId: string; organizationId: string; role?: string },
    record?: Parameters<typeof connectReady>[2],
  ) => ReturnType<typeof connectReady>;
  id: (p: string) => string;
}

const RESEND_MS = 1500;

/**
 * Three nodes in this process, sharing one PostgreSQL database and the backend's Redis (one key
 * prefix), like three processes behind a load balancer. Clients are connected to different nodes
 * on purpose: every event below crosses nodes through the adapter, and presence, rate limits,
 * connection slots and revocation through Redis. The same tests run on one Redis
 * (test/multi-node.test.ts) and on a Redis Cluster (test/cluster/multi-node.test.ts); `extra`
 * adds a backend's own tests to the same suite.
 */
export function describeMultiNode(
  title: string,
  skip: boolean,
  backend: MultiNodeBackend,
  extra?: (ctx: MultiNodeContext) => void,
): void {
  describe.skipIf(skip)(title, () => {
    let nodes: TestServer[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    let stopBackend: (() => Promise<void>) | undefined;
    let service: string;
    const prefix = redisPrefix('multi');
    const open: TestSocket[] = [];
    let n = 0;
    const id = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

    beforeAll(async () => {
      const [shared, db] = await Promise.all([
        backend.start(prefix),
        createTestDatabase('multinode'),
      ]);
      stopBackend = shared.stop;
      dropDb = db.drop;
      const env = {
        ...shared.env,
        REDIS_KEY_PREFIX: prefix,
        ALERT_RESEND_INTERVAL_MS: String(RESEND_MS),
        WS_MAX_CONNECTIONS_PER_USER: String(CAP),
        LOG_LEVEL: 'info',
      };
      // One after the other: the first one migrates the database.
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
      await stopBackend?.();
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

    it('presence: one online on the first session anywhere, one offline when the last session anywhere is gone', async () => {
      const org = id('po');
      const watcher = await ready(A, { userId: 'watcher', organizationId: org }, [
        'presence:changed',
      ]);
      const foreign = await ready(A, { userId: 'foreign', organizationId: id('other') }, [
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
      // Without userIds: the organization's active users, read across nodes.
      const list = await ok(onC.socket, 'presence:query', {});
      expect(list.users.map((u) => u.userId).sort()).toEqual(['mover', 'watcher']);
      onB.socket.close();
      // Still online through node C: no offline announcement (prove the negative with a round trip on C, then A).
      await ok(onC.socket, 'presence:update', { status: 'away' });
      await watcher.recorder.until((r) =>
        r.of('presence:changed').some((p) => p.userId === 'mover' && p.status === 'away'),
      );
      const moverEvents = () =>
        watcher.recorder.of('presence:changed').filter((p) => p.userId === 'mover');
      expect(moverEvents().map((p) => p.status)).toEqual(['online', 'away']);
      onC.socket.close();
      await watcher.recorder.until(() => moverEvents().some((p) => p.status === 'offline'));
      expect(moverEvents().map((p) => p.status)).toEqual(['online', 'away', 'offline']);
      expect(moverEvents()[2].lastSeenAt).toEqual(expect.any(String));
      await settle(foreign.socket);
      expect(foreign.recorder.of('presence:changed').filter((p) => p.userId === 'mover')).toEqual(
        [],
      );
    });

    it('notifications: every session of the recipient on every node', async () => {
      const org = id('no');
      const a = await ready(A, { userId: 'nurse', organizationId: org, role: 'nurse' }, [
        'notification:new',
      ]);
      const b = await ready(B, { userId: 'nurse', organizationId: org, role: 'nurse' }, [
        'notification:new',
      ]);
      const other = await ready(B, { userId: 'clerk', organizationId: org }, ['notification:new']);
      const res = await http<{ ids: string[] }>(nodes[C].url, 'POST', '/api/v1/notifications', {
        token: service,
        body: { organizationId: org, userIds: ['nurse'], type: 'test', title: 'cross-node' },
      });
      expect(res.status).toBe(202);
      for (const c of [a, b]) await c.recorder.until((r) => r.of('notification:new').length === 1);
      expect(a.recorder.of('notification:new')[0].notification.id).toBe(res.body.ids[0]);
      expect(b.recorder.of('notification:new')[0].notification.id).toBe(res.body.ids[0]);
      await settle(other.socket);
      expect(other.recorder.of('notification:new')).toEqual([]);
    });

    it('channel publishes reach subscribers on every node', async () => {
      const org = id('ch');
      const a = await ready(A, { userId: 'u1', organizationId: org }, ['channel:message']);
      const c = await ready(C, { userId: 'u2', organizationId: org }, ['channel:message']);
      const notSubscribed = await ready(B, { userId: 'u3', organizationId: org }, [
        'channel:message',
      ]);
      await ok(a.socket, 'subscribe', { channel: `org:${org}:drills` });
      await ok(c.socket, 'subscribe', { channel: `org:${org}:drills` });
      const res = await http(nodes[B].url, 'POST', '/api/v1/channels/publish', {
        token: service,
        body: { channel: `org:${org}:drills`, event: 'drill', data: { n: 1 } },
      });
      expect(res.status).toBe(202);
      for (const x of [a, c]) await x.recorder.until((r) => r.of('channel:message').length === 1);
      expect(c.recorder.of('channel:message')[0]).toMatchObject({
        channel: `org:${org}:drills`,
        event: 'drill',
        data: { n: 1 },
      });
      await settle(notSubscribed.socket);
      expect(notSubscribed.recorder.of('channel:message')).toEqual([]);
    });

    it('revocation drops the user’s sessions on every node and in every namespace', async () => {
      const org = id('rv');
      const t = await signToken({ userId: 'revoked', organizationId: org });
      const sockets = [
        (await connect(nodes[A].url, t)).socket,
        (await connect(nodes[B].url, t)).socket,
        (await connect(nodes[C].url, t, { namespace: '/communication' })).socket,
      ];
      open.push(...sockets);
      const bystander = await ready(B, { userId: 'stays', organizationId: org });
      const expired = sockets.map((s) => waitFor(s, 'auth:expired'));
      const disconnected = sockets.map((s) => new Promise<string>((r) => s.once('disconnect', r)));
      const res = await http<{
        disconnected: number;
        nodes: { confirmed: number; unreachable: number };
      }>(nodes[A].url, 'POST', '/api/v1/sessions/revoke', {
        token: service,
        // §12.1: the service token is of another organization; it names the user's.
        body: { userId: 'revoked', organizationId: org },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ disconnected: 3, nodes: { confirmed: 3, unreachable: 0 } });
      for (const e of await Promise.all(expired)) expect(e.type).toBe('AUTHENTICATION_FAILED');
      expect(await Promise.all(disconnected)).toEqual([
        'io server disconnect',
        'io server disconnect',
        'io server disconnect',
      ]);
      expect(bystander.socket.connected).toBe(true);
      // §12.2: the 200 means every node already refuses the old token, in both namespaces.
      for (const node of nodes) {
        for (const namespace of ['/', '/communication'] as const) {
          const outcome = await connect(node.url, t, { namespace }).then(
            (c) => (c.socket.close(), 'connected'),
            (e: Error) => e.message,
          );
          expect(outcome).toBe('AUTHENTICATION_FAILED');
        }
      }
    });

    it('emergency alerts reach every node; re-delivery is once per interval per recipient, not per node', async () => {
      const org = id('al');
      const rec = ['alert:emergency', 'alert:resolved'] as const;
      // One recipient with sockets on two nodes, another on the third; an admin of another org.
      const r1a = await ready(A, { userId: 'r1', organizationId: org, role: 'nurse' }, [...rec]);
      const r1b = await ready(B, { userId: 'r1', organizationId: org, role: 'nurse' }, [...rec]);
      const r2 = await ready(C, { userId: 'r2', organizationId: org, role: 'staff' }, [...rec]);
      const foreign = await ready(
        C,
        { userId: 'r9', organizationId: id('elsewhere'), role: 'nurse' },
        [...rec],
      );
      const res = await http<{ alert: { id: string } }>(
        nodes[A].url,
        'POST',
        '/api/v1/alerts/emergency',
        {
          token: service,
          body: {
            organizationId: org,
            title: 'Lockdown drill',
            message: 'cross-node',
            severity: 'critical',
          },
        },
      );
      expect(res.status).toBe(202);
      const alertId = res.body.alert.id;
      for (const c of [r1a, r1b, r2]) {
        await c.recorder.until((r) =>
          r
            .of('alert:emergency')
            .some((e) => e.alert.id === alertId && !e.redelivered && !e.replayed),
        );
      }
      // The node that created it asked every node who is connected (the adapter's
      // fetchSockets): both recipients count as delivered.
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
      // r2 acknowledges on node C: its re-delivery stops; r1 keeps getting re-sends.
      await ok(r2.socket, 'alert:acknowledge', { alertId });
      const stamps: Record<string, number[]> = { a: [], b: [], c: [] };
      const track = (s: TestSocket, key: string) =>
        s.on('alert:emergency', (e: ServerEventSpec['alert:emergency']) => {
          if (e.alert.id === alertId && e.redelivered) stamps[key].push(Date.now());
        });
      track(r1a.socket, 'a');
      track(r1b.socket, 'b');
      track(r2.socket, 'c');
      const started = Date.now();
      await r1a.recorder.until(
        (r) =>
          r.of('alert:emergency').filter((e) => e.alert.id === alertId && e.redelivered).length >=
          3,
        4 * RESEND_MS + 3000,
        '3 re-deliveries',
      );
      const elapsed = Date.now() - started;
      await settle(r1b.socket);
      // Both sockets of r1 get each re-send (it goes to the user room) …
      const redeliveredOn = (c: typeof r1a) =>
        c.recorder.of('alert:emergency').filter((e) => e.alert.id === alertId && e.redelivered)
          .length;
      expect(Math.abs(redeliveredOn(r1a) - redeliveredOn(r1b))).toBeLessThanOrEqual(1);
      // … and re-sends are an interval apart: three nodes do not triple them.
      expect(redeliveredOn(r1a)).toBeLessThanOrEqual(Math.floor(elapsed / RESEND_MS) + 2);
      const gaps = stamps.a.slice(1).map((t, i) => t - stamps.a[i]);
      for (const g of gaps) expect(g).toBeGreaterThan(RESEND_MS * 0.6);
      expect(stamps.c).toEqual([]);
      await settle(foreign.socket);
      expect(foreign.recorder.of('alert:emergency')).toEqual([]);
      // Resolve on node B: every node's recipients get alert:resolved once.
      const resolved = await http(nodes[B].url, 'POST', `/api/v1/alerts/${alertId}/resolve`, {
        token: service,
      });
      expect(resolved.status).toBe(200);
      for (const c of [r1a, r1b, r2])
        await c.recorder.until((r) => r.of('alert:resolved').length === 1);
    });

    // ---- conversations and messages -------------------------------------------------------

    const chatEvents = [
      'conversation:new',
      'message:new',
      'message:delivered',
      'message:read',
      'message:typing',
    ] as const;
    const chatUser = async (
      node: number,
      userId: string,
      organizationId: string,
      namespace: '/' | '/communication' = '/',
    ) => {
      const c = await connect(nodes[node].url, await signToken({ userId, organizationId }), {
        namespace,
        record: [...chatEvents],
      });
      open.push(c.socket);
      return c;
    };

    it('a message sent on node A reaches participants on B and C (both namespaces), receipts and typing cross back', async () => {
      const org = id('msg');
      const alice = await chatUser(A, 'alice', org);
      const aliceOther = await chatUser(C, 'alice', org, '/communication');
      const bob = await chatUser(B, 'bob', org);
      const carol = await chatUser(C, 'carol', org, '/communication');
      const outsider = await chatUser(B, 'dave', org);
      const { conversation } = await ok(alice.socket, 'conversation:create', {
        participantIds: ['bob', 'carol'],
      });
      for (const c of [bob, carol, aliceOther])
        await c.recorder.until((r) =>
          r.of('conversation:new').some((e) => e.conversation.id === conversation.id),
        );
      const { message } = await ok(alice.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content: 'across nodes',
      });
      expect(message.seq).toBe(1);
      for (const c of [bob, carol, aliceOther]) {
        await c.recorder.until(
          (r) => r.of('message:new').some((e) => e.message.id === message.id),
          5000,
          `message:new on ${c.confirmed.userId}`,
        );
      }
      // Receipts: bob (node B) reads; the conversation's participants on A and C hear it.
      await ok(bob.socket, 'message:read', {
        conversationId: conversation.id,
        messageId: message.id,
      });
      for (const c of [alice, carol])
        await c.recorder.until((r) =>
          r.of('message:read').some((e) => e.userId === 'bob' && e.messageId === message.id),
        );
      await ok(carol.socket, 'message:delivered', {
        conversationId: conversation.id,
        messageId: message.id,
      });
      await alice.recorder.until((r) =>
        r.of('message:delivered').some((e) => e.userId === 'carol'),
      );
      // Typing: alice joined the room on node A; bob types on node B.
      await ok(alice.socket, 'conversation:join', { conversationId: conversation.id });
      await ok(bob.socket, 'message:typing', { conversationId: conversation.id, isTyping: true });
      await alice.recorder.until((r) =>
        r.of('message:typing').some((e) => e.userId === 'bob' && e.isTyping),
      );
      await settle(outsider.socket);
      expect(outsider.recorder.events).toEqual([]);
    });

    it('seq is gapless and unique with concurrent senders on three nodes', async () => {
      const org = id('seq');
      const senders = [
        await chatUser(A, 's1', org),
        await chatUser(B, 's2', org),
        await chatUser(C, 's3', org),
      ];
      const { conversation } = await ok(senders[0].socket, 'conversation:create', {
        participantIds: ['s2', 's3'],
      });
      const PER = 8; // under the default message:send burst of 10 per user
      const acks = await Promise.all(
        senders.flatMap((s) =>
          Array.from({ length: PER }, (_, i) =>
            ok(s.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: conversation.id,
              content: `m${i}`,
            }),
          ),
        ),
      );
      const seqs = acks.map((a) => a.message.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 3 * PER }, (_, i) => i + 1));
      const page = await ok(senders[2].socket, 'conversation:join', {
        conversationId: conversation.id,
        afterSeq: 0,
        limit: 100,
      });
      expect(page.messages.map((m) => m.seq)).toEqual(seqs);
      expect(page.lastSeq).toBe(3 * PER);
    });

    it('the 11th message:send in a burst is refused whichever node gets it', async () => {
      const org = id('rl');
      const onA = await chatUser(A, 'burst', org);
      const onB = await chatUser(B, 'burst', org);
      await chatUser(C, 'peer', org);
      const { conversation } = await ok(onA.socket, 'conversation:create', {
        participantIds: ['peer'],
      });
      for (let i = 0; i < 10; i++) {
        const s = i % 2 === 0 ? onA : onB;
        expect(
          (
            await request(s.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: conversation.id,
              content: `b${i}`,
            })
          ).ok,
        ).toBe(true);
      }
      for (const s of [onA, onB]) {
        const r = await request(s.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conversation.id,
          content: 'eleventh',
        });
        expect(r.ok).toBe(false);
        if (r.ok) continue;
        expect(r.error.type).toBe('RATE_LIMIT_EXCEEDED');
        expect((r.error.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
        expect((r.error.details as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(
          6000,
        );
      }
      const page = await ok(onB.socket, 'conversation:join', {
        conversationId: conversation.id,
        afterSeq: 0,
      });
      expect(page.messages).toHaveLength(10);
    });

    it('a rate-limit reset over HTTP on one node refills the user’s buckets on every node', async () => {
      const org = id('rr');
      const onA = await chatUser(A, 'spender', org);
      const onB = await chatUser(B, 'spender', org);
      await chatUser(C, 'peer', org);
      const { conversation } = await ok(onA.socket, 'conversation:create', {
        participantIds: ['peer'],
      });
      const send = async (c: typeof onA) =>
        (
          await request(c.socket, 'message:send', {
            messageId: randomUUID(),
            conversationId: conversation.id,
            content: 'spend',
          })
        ).ok;
      for (let i = 0; i < 10; i++) expect(await send(i % 2 === 0 ? onA : onB)).toBe(true);
      expect(await send(onB)).toBe(false);
      const tokensLeft = async (node: number, event: string) => {
        const res = await http<{ buckets: Array<{ event: string; tokensLeft: number }> }>(
          nodes[node].url,
          'GET',
          `/api/v1/rate-limits/spender?organizationId=${org}`,
          { token: service },
        );
        expect(res.status).toBe(200);
        return res.body.buckets.find((b) => b.event === event)?.tokensLeft;
      };
      // One refill every 6 s: at most one token back by now.
      for (const node of [A, B, C])
        expect(await tokensLeft(node, 'message:send')).toBeLessThanOrEqual(1);
      const reset = await http<{ bucketsReset: number }>(
        nodes[C].url,
        'POST',
        `/api/v1/rate-limits/spender/reset?organizationId=${org}`,
        { token: service },
      );
      expect(reset.status).toBe(200);
      // message:send, conversation:create and handshake:user: every bucket the user has.
      expect(reset.body).toEqual({ userId: 'spender', organizationId: org, bucketsReset: 3 });
      for (const node of [A, B, C]) {
        expect(await tokensLeft(node, 'message:send')).toBe(10);
        expect(await tokensLeft(node, 'conversation:create')).toBe(5);
      }
      // Full again for real, through both nodes' sockets (without the reset: one send in 6 s).
      for (let i = 0; i < 10; i++) expect(await send(i % 2 === 0 ? onB : onA)).toBe(true);
      // The peer's buckets were not touched.
      const peerReset = await http<{ bucketsReset: number }>(
        nodes[A].url,
        'POST',
        `/api/v1/rate-limits/peer/reset?organizationId=${org}`,
        { token: service },
      );
      expect(peerReset.body.bucketsReset).toBe(1);
    });

    it('a foreign organization never sees another organization’s events across nodes', async () => {
      const orgA = id('iso-a');
      const spy = await ready(B, { userId: 'spy', organizationId: id('iso-b') }, [
        'presence:changed',
        'notification:new',
        'alert:emergency',
        'channel:message',
      ]);
      const victim = await ready(C, { userId: 'victim', organizationId: orgA });
      await http(nodes[A].url, 'POST', '/api/v1/notifications', {
        token: service,
        body: { organizationId: orgA, userIds: ['victim'], type: 'test', title: 'x' },
      });
      await http(nodes[A].url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: { organizationId: orgA, title: 'x', message: 'y' },
      });
      await waitFor(victim.socket, 'alert:emergency');
      await settle(spy.socket);
      const aboutOthers = spy.recorder.events.filter(
        (e) =>
          e.event !== 'notification:sync' &&
          !(e.event === 'presence:changed' && (e.payload as { userId: string }).userId === 'spy'),
      );
      expect(aboutOthers).toEqual([]);
      expect((await request(spy.socket, 'ping')).ok).toBe(true);
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

    extra?.({
      get nodes() {
        return nodes;
      },
      prefix,
      open,
      ready,
      id,
    });
  });
}
