import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, ok, request, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import {
  freePort,
  spawnServer,
  startServerProcess,
  type ServerProcess,
} from './support/process.js';
import { crashLines, expectRunningWithoutCrash } from './support/cluster.js';
import { OwnRedis } from './support/redis-server.js';
import { createTestDatabase, hasPostgres, hasRedis, redisPrefix } from './support/services.js';
import { signToken, TEST_JWT_SECRET } from './support/tokens.js';
import { eventually } from './support/wait.js';

/**
 * Faults with real server PROCESSES (node dist/src/main.js), one PostgreSQL database and a
 * redis-server of the test's own (its own port), so Redis can be killed and restarted and a
 * node can be killed with -9.
 */
const HAS_SERVICES = hasRedis() && hasPostgres();

function nodeEnv(
  redisUrl: string,
  databaseUrl: string,
  prefix: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    RATE_LIMITS: JSON.stringify({
      'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
      default: { maxTokens: 100000, refillIntervalMs: 1 },
    }),
    ...extra,
  };
}

describe.skipIf(!HAS_SERVICES)('Redis stopped and restarted while clients work', () => {
  let redis: OwnRedis;
  let db: { url: string; drop: () => Promise<void> };
  let nodes: ServerProcess[] = [];
  const open: TestSocket[] = [];
  let service: string;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    db = await createTestDatabase('redisfault');
    const env = nodeEnv(redis.url, db.url, redisPrefix('rf'));
    nodes.push(await startServerProcess(env));
    nodes.push(await startServerProcess(env));
    service = await signToken({ userId: 'svc', organizationId: 'platform', role: 'service' });
  }, 90_000);
  afterAll(async () => {
    closeAll(...open);
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    nodes = [];
    await redis?.down();
    await db?.drop();
  });

  it('no node crashes, cross-node delivery resumes within 5 s, every acknowledged notification reaches its user', async () => {
    const [A, B] = nodes;
    const org = `rf-${Date.now().toString(36)}`;
    const recipientToken = await signToken({ userId: 'recipient', organizationId: org });
    const onB = await connect(B.url, recipientToken, {
      record: ['notification:new', 'notification:sync'],
    });
    open.push(onB.socket);
    await onB.recorder.until((r) => r.of('notification:sync').length === 1);
    const notify = (title: string) =>
      http<{ ids: string[] }>(A.url, 'POST', '/api/v1/notifications', {
        token: service,
        body: { organizationId: org, userIds: ['recipient'], type: 'fault', title },
      });
    const receivedIds = () =>
      new Set(onB.recorder.of('notification:new').map((n) => n.notification.id));

    // Before: A → B works.
    const first = await notify('before');
    expect(first.status).toBe(202);
    await onB.recorder.until(
      () => receivedIds().has(first.body.ids[0]),
      5000,
      'cross-node delivery before the outage',
    );

    // Redis goes away (SIGKILL) while the API keeps accepting work.
    await redis.down();
    const acknowledged: string[] = [first.body.ids[0]];
    for (let i = 0; i < 10; i++) {
      const res = await notify(`during-${i}`);
      // Durable before it answers: the database is up, so every one of these is accepted.
      expect(res.status).toBe(202);
      acknowledged.push(...res.body.ids);
    }
    // Both nodes serve their sockets and report Redis down — degraded, still ready (§12.8): a
    // load balancer must not drop every node at once.
    expect((await request(onB.socket, 'ping')).ok).toBe(true);
    const readyB = await eventually(
      () => http<{ status: string; checks: { redis: string } }>(B.url, 'GET', '/ready'),
      (r) => r.body.checks?.redis === 'down',
      5000,
      '/ready redis down',
    );
    expect(readyB.status).toBe(200);
    expect(readyB.body.status).toBe('degraded');
    const metrics = await http<string>(A.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/realtime_redis_up 0/);

    // Redis returns (empty): cross-node delivery resumes within 5 s.
    await redis.up();
    const back = Date.now();
    let resumedId = '';
    await eventually(
      async () => {
        const res = await notify('after');
        acknowledged.push(...res.body.ids);
        resumedId = res.body.ids[0];
        return onB.recorder
          .until(() => receivedIds().has(resumedId), 400, 'resume')
          .then(() => true);
      },
      (x) => x,
      5000,
      'cross-node delivery after Redis returned',
    );
    const resumeMs = Date.now() - back;
    expect(resumeMs).toBeLessThan(5000);
    await eventually(
      () => http<{ status: string }>(B.url, 'GET', '/ready'),
      (r) => r.status === 200 && r.body.status === 'ok',
      5000,
      '/ready ok again',
    );

    // Whatever B missed while Redis was down it gets on reconnect (notification:sync from the database).
    onB.socket.close();
    const again = await connect(B.url, recipientToken, { record: ['notification:sync'] });
    open.push(again.socket);
    await again.recorder.until((r) => r.of('notification:sync').length === 1);
    const unread = new Set(again.recorder.of('notification:sync')[0].unread.map((n) => n.id));
    for (const id of acknowledged) expect(unread.has(id) || receivedIds().has(id)).toBe(true);
    expect(acknowledged.every((id) => unread.has(id))).toBe(true);

    expectRunningWithoutCrash(nodes);
    process.stdout.write(`cross-node delivery resumed ${resumeMs} ms after Redis returned\n`);
  }, 60_000);

  it('messages acknowledged while Redis is down are in history and reach the other node’s participant (afterSeq, replay)', async () => {
    const [A, B] = nodes;
    const org = `rfm-${Date.now().toString(36)}`;
    const sender = await connect(
      A.url,
      await signToken({ userId: 'sender', organizationId: org }),
      { record: ['message:new'] },
    );
    const receiverToken = await signToken({ userId: 'receiver', organizationId: org });
    const receiver = await connect(B.url, receiverToken, { record: ['message:new'] });
    open.push(sender.socket, receiver.socket);
    const { conversation } = await ok(sender.socket, 'conversation:create', {
      participantIds: ['receiver'],
    });
    const before = await ok(sender.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conversation.id,
      content: 'before',
    });
    await receiver.recorder.until((r) =>
      r.of('message:new').some((e) => e.message.id === before.message.id),
    );

    await redis.down();
    const acked: number[] = [before.message.seq];
    for (let i = 0; i < 10; i++) {
      const res = await request(sender.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content: `during ${i}`,
      });
      expect(res.ok).toBe(true);
      if (res.ok) acked.push(res.data.message.seq);
    }
    // Same-node delivery does not depend on Redis: the sender's own session got every message.
    await sender.recorder.until((r) => r.of('message:new').length >= acked.length);
    await redis.up();

    // Cross-node delivery resumes within 5 s …
    const back = Date.now();
    await eventually(
      async () => {
        const res = await ok(sender.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conversation.id,
          content: 'after',
        });
        acked.push(res.message.seq);
        return receiver.recorder
          .until((r) => r.of('message:new').some((e) => e.message.id === res.message.id), 400)
          .then(() => true);
      },
      (x) => x,
      5000,
      'cross-node message delivery after Redis returned',
    );
    expect(Date.now() - back).toBeLessThan(5000);
    // … and what the other node missed comes from the database: conversation:join afterSeq …
    const page = await ok(receiver.socket, 'conversation:join', {
      conversationId: conversation.id,
      afterSeq: 0,
      limit: 100,
    });
    const inHistory = new Set(page.messages.map((m) => m.seq));
    for (const seq of acked) expect(inHistory.has(seq)).toBe(true);
    expect([...inHistory].sort((x, y) => x - y)).toEqual(
      Array.from({ length: page.lastSeq }, (_, i) => i + 1),
    );
    // … or the replay on reconnect (everything above the delivered cursor).
    receiver.socket.close();
    const again = await connect(B.url, receiverToken, { record: ['message:new'] });
    open.push(again.socket);
    const seen = new Set(
      [...receiver.recorder.of('message:new'), ...again.recorder.of('message:new')].map(
        (e) => e.message.seq,
      ),
    );
    await again.recorder.until(
      () => {
        for (const e of again.recorder.of('message:new')) seen.add(e.message.seq);
        return acked.every((seq) => seen.has(seq));
      },
      5000,
      'every acknowledged message on the receiver',
    );
    expectRunningWithoutCrash(nodes);
  }, 60_000);
});

describe.skipIf(!HAS_SERVICES)('a node dies (kill -9) or stops (SIGTERM) under load', () => {
  let redis: OwnRedis;
  let db: { url: string; drop: () => Promise<void> };
  let nodes: ServerProcess[] = [];
  const open: TestSocket[] = [];
  const TTL = 3000;
  let service: string;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    db = await createTestDatabase('nodefault');
    const env = nodeEnv(redis.url, db.url, redisPrefix('nf'), {
      REDIS_NODE_TTL_MS: String(TTL),
      WS_MAX_CONNECTIONS_PER_USER: '2',
    });
    nodes.push(await startServerProcess(env));
    nodes.push(...(await Promise.all([startServerProcess(env), startServerProcess(env)])));
    service = await signToken({ userId: 'svc', organizationId: 'platform', role: 'service' });
  }, 120_000);
  afterEach(() => closeAll(...open.splice(0)));
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    nodes = [];
    await redis?.down();
    await db?.drop();
  });

  it('kill -9: clients reconnect to another node, nothing acknowledged is lost, the dead node’s users go offline within the heartbeat expiry, its slots are freed', async () => {
    const [A, , C] = nodes;
    const org = `kill-${Date.now().toString(36)}`;
    const watcher = await connect(
      A.url,
      await signToken({ userId: 'watcher', organizationId: org }),
      { record: ['presence:changed'] },
    );
    open.push(watcher.socket);
    const moverToken = await signToken({ userId: 'mover', organizationId: org });
    const goneToken = await signToken({ userId: 'gone', organizationId: org });
    const mover = await connect(C.url, moverToken, { record: ['notification:new'] });
    const gone = await connect(C.url, goneToken);
    const gone2 = await connect(C.url, goneToken);
    open.push(mover.socket, gone.socket, gone2.socket);
    await watcher.recorder.until((r) =>
      ['mover', 'gone'].every((u) =>
        r.of('presence:changed').some((p) => p.userId === u && p.status === 'online'),
      ),
    );

    // Load: notifications for `mover` posted on node A continuously; each 202 is an acknowledgement.
    const acknowledged: string[] = [];
    let loading = true;
    const load = (async () => {
      let i = 0;
      while (loading) {
        const res = await http<{ ids: string[] }>(A.url, 'POST', '/api/v1/notifications', {
          token: service,
          body: { organizationId: org, userIds: ['mover'], type: 'load', title: `n${i++}` },
        }).catch(() => undefined);
        if (res?.status === 202) acknowledged.push(...res.body.ids);
      }
    })();
    await eventually(
      () => Promise.resolve(acknowledged.length),
      (n) => n >= 5,
      10_000,
      'load running',
    );
    // Load: messages from a user on the node that will die, to a listener on node A.
    const talker = await connect(C.url, await signToken({ userId: 'talker', organizationId: org }));
    const listener = await connect(
      A.url,
      await signToken({ userId: 'listener', organizationId: org }),
    );
    open.push(talker.socket, listener.socket);
    const { conversation } = await ok(talker.socket, 'conversation:create', {
      participantIds: ['listener'],
    });
    const ackedSeqs: number[] = [];
    const talking = (async () => {
      for (let i = 0; talker.socket.connected; i++) {
        const res = await request(talker.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conversation.id,
          content: `t${i}`,
        }).catch(() => undefined);
        if (res?.ok) ackedSeqs.push(res.data.message.seq);
      }
    })();
    await eventually(
      () => Promise.resolve(ackedSeqs.length),
      (n) => n >= 5,
      10_000,
      'messages flowing',
    );

    // The "load balancer": when mover's connection drops, it reconnects to node A.
    const moverLost = new Promise<string>((r) => mover.socket.once('disconnect', r));
    const killedAt = Date.now();
    await C.stop('SIGKILL');
    expect(await moverLost).toBe('transport close');
    const moverAgain = await eventually(
      () => connect(A.url, moverToken, { record: ['notification:sync', 'notification:new'] }),
      () => true,
      5000,
      'reconnect to A',
    );
    open.push(moverAgain.socket);

    // `gone` did not come back: offline within the heartbeat expiry (+ one heartbeat to notice).
    await watcher.recorder.until(
      (r) => r.of('presence:changed').some((p) => p.userId === 'gone' && p.status === 'offline'),
      TTL + 4000,
      'gone offline',
    );
    const offlineAfterMs = Date.now() - killedAt;
    expect(offlineAfterMs).toBeLessThan(TTL + 4000);
    // `mover` reconnected elsewhere in time: never announced offline.
    expect(
      watcher.recorder
        .of('presence:changed')
        .filter((p) => p.userId === 'mover')
        .map((p) => p.status),
    ).toEqual(['online']);
    // The dead node's socket slots are free (cap 2 per user, both held on the dead node): gone can connect on B.
    const goneAgain = await eventually(
      () => connect(nodes[1].url, goneToken),
      () => true,
      TTL + 2000,
      'gone reconnects within its cap',
    );
    open.push(goneAgain.socket);

    loading = false;
    await load;
    await talking;
    // Every acknowledged message of the dead node's user is in history, read through node A.
    const page = await ok(listener.socket, 'conversation:join', {
      conversationId: conversation.id,
      afterSeq: 0,
      limit: 100,
    });
    const stored = new Set(page.messages.map((m) => m.seq));
    expect(ackedSeqs.length).toBeGreaterThanOrEqual(5);
    for (const seq of ackedSeqs.filter((x) => x <= 100)) expect(stored.has(seq)).toBe(true);
    // Nothing acknowledged is lost: every accepted notification is in the database for mover.
    const reconnect = await (async () => {
      moverAgain.socket.close();
      return eventually(
        () => connect(nodes[1].url, moverToken, { record: ['notification:sync'] }),
        () => true,
        5000,
        'mover reconnect',
      );
    })();
    open.push(reconnect.socket);
    await reconnect.recorder.until((r) => r.of('notification:sync').length === 1);
    const sync = reconnect.recorder.of('notification:sync')[0];
    expect(sync.unreadCount).toBeGreaterThanOrEqual(acknowledged.length);
    const unread = new Set(sync.unread.map((n) => n.id));
    const newest = acknowledged.slice(-100);
    for (const id of newest) expect(unread.has(id)).toBe(true);
    process.stdout.write(
      `dead node's user announced offline ${offlineAfterMs} ms after kill -9 (TTL ${TTL} ms); ${acknowledged.length} notifications acknowledged under load\n`,
    );
    for (const n of [nodes[0], nodes[1]]) expect(crashLines(n)).toEqual([]);
  }, 60_000);

  it('SIGTERM: exits 0, clients get a server disconnect (io server disconnect) and reconnect elsewhere, no offline flap for users who reconnect elsewhere', async () => {
    const [A, B] = nodes;
    const org = `term-${Date.now().toString(36)}`;
    const watcher = await connect(
      A.url,
      await signToken({ userId: 'watcher2', organizationId: org }),
      { record: ['presence:changed'] },
    );
    open.push(watcher.socket);
    const tok = await signToken({ userId: 'traveller', organizationId: org });
    const leaverTok = await signToken({ userId: 'leaver', organizationId: org });
    const t = await connect(B.url, tok);
    const leaver = await connect(B.url, leaverTok);
    open.push(t.socket, leaver.socket);
    await watcher.recorder.until((r) =>
      ['traveller', 'leaver'].every((u) =>
        r.of('presence:changed').some((p) => p.userId === u && p.status === 'online'),
      ),
    );
    const reason = new Promise<string>((r) => t.socket.once('disconnect', r));
    const exit = B.stop('SIGTERM');
    expect(await reason).toBe('io server disconnect');
    const again = await eventually(
      () => connect(A.url, tok),
      () => true,
      5000,
      'reconnect to A',
    );
    open.push(again.socket);
    expect(await exit).toBe(0);
    await watcher.recorder.until(
      (r) => r.of('presence:changed').some((p) => p.userId === 'leaver' && p.status === 'offline'),
      TTL + 8000,
      'leaver offline',
    );
    expect(
      watcher.recorder
        .of('presence:changed')
        .filter((p) => p.userId === 'traveller')
        .map((p) => p.status),
    ).toEqual(['online']);
    expect(
      (await ok(watcher.socket, 'presence:query', { userIds: ['traveller', 'leaver'] })).users.map(
        (u) => u.status,
      ),
    ).toEqual(['online', 'offline']);
  }, 60_000);
});

describe.skipIf(!HAS_SERVICES)('production start needs Redis', () => {
  const productionEnv = async (redisUrl: string, databaseUrl: string) => ({
    NODE_ENV: 'production',
    PORT: String(await freePort()),
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: databaseUrl,
    CORS_ORIGIN: 'https://app.example.org',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisPrefix('prod'),
    LOG_LEVEL: 'warn',
  });

  it('refuses to start (exit 1, one line naming REDIS_URL) when Redis does not answer; starts when it does', async () => {
    const db = await createTestDatabase('prodstart');
    try {
      const closedPort = await freePort();
      const refused = spawnServer(await productionEnv(`redis://127.0.0.1:${closedPort}`, db.url));
      expect(await refused.exited).toBe(1);
      expect(refused.stderr.join('\n')).toMatch(/REDIS_URL/);
      const redis = await OwnRedis.start();
      try {
        const started = await startServerProcess(await productionEnv(redis.url, db.url));
        const ready = await eventually(
          () => http<{ checks: { redis: string } }>(started.url, 'GET', '/ready'),
          (r) => r.status === 200,
          10_000,
          'ready',
        );
        expect(ready.body.checks.redis).toBe('up');
        expect(await started.stop('SIGTERM')).toBe(0);
      } finally {
        await redis.down();
      }
    } finally {
      await db.drop();
    }
  }, 60_000);
});
