import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  connectError,
  rawRequest,
  request,
  settle,
  waitFor,
  type TestSocket,
} from './support/client.js';
import { startServer, useServer, type TestServer } from './support/server.js';
import { hasRedis, redisPrefix, REDIS_TEST_URL } from './support/services.js';
import { signToken } from './support/tokens.js';
import { http } from './support/http.js';
import { uid } from './support/ids.js';

/** Small buckets so a burst is quick: 3 tokens, one back per minute (no refill during a test). */
const LIMITS = {
  default: { maxTokens: 3, refillIntervalMs: 60_000 },
  'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
};

const token = (userId: string, organizationId = 'org-rl') => signToken({ userId, organizationId });

/** Connecting again until the server has released a slot (release runs after the disconnect). */
async function connectEventually(
  url: string,
  t: string,
  o: { namespace?: '/' | '/communication' } = {},
  timeoutMs = 5000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect(url, t, o);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

const variants = [
  { name: 'memory (one node)', redis: false },
  { name: 'redis', redis: true },
] as const;

describe.each(variants)('rate limits end to end: $name', ({ redis }) => {
  const skip = redis && !hasRedis();
  const srv = useServer(
    () => ({
      env: { RATE_LIMITS: JSON.stringify(LIMITS), WS_MAX_CONNECTIONS_PER_USER: '2', ...redisEnv() },
    }),
    { skip },
  );
  const sockets: TestSocket[] = [];
  const redisEnv = (): Record<string, string> =>
    redis ? { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix('rle2e') } : {};

  afterAll(async () => {
    closeAll(...sockets);
  });
  const open = async (userId: string, namespace: '/' | '/communication' = '/') => {
    const c = await connect(srv.url, await token(userId), { namespace });
    sockets.push(c.socket);
    return c.socket;
  };

  it.skipIf(skip)(
    'the event over the bucket is RATE_LIMIT_EXCEEDED with details.retryAfterMs; each event has its own bucket',
    async () => {
      const s = await open(uid('burst'));
      for (let i = 0; i < 3; i++) expect((await request(s, 'ping')).ok).toBe(true);
      const refused = await request(s, 'ping');
      expect(refused.ok).toBe(false);
      if (refused.ok) return;
      expect(refused.error.type).toBe('RATE_LIMIT_EXCEEDED');
      const retry = (refused.error.details as { retryAfterMs: number }).retryAfterMs;
      expect(retry).toBeGreaterThan(50_000);
      expect(retry).toBeLessThanOrEqual(60_000);
      expect(new Date(refused.error.timestamp).toISOString()).toBe(refused.error.timestamp);
      // `default` is one bucket per event: subscribe still has its tokens.
      expect((await request(s, 'subscribe', { channel: 'org:org-rl' })).ok).toBe(true);
    },
  );

  it.skipIf(skip)('without an ack the refusal arrives as an `error` event', async () => {
    const s = await open(uid('noack'));
    for (let i = 0; i < 3; i++) await request(s, 'ping');
    const err = waitFor(s, 'error');
    s.emit('ping');
    expect((await err).type).toBe('RATE_LIMIT_EXCEEDED');
  });

  it.skipIf(skip)(
    'invalid payloads spend tokens (the limit is checked before validation)',
    async () => {
      const s = await open(uid('invalid'));
      for (let i = 0; i < 3; i++) {
        const r = await rawRequest(s, 'subscribe', { channel: 42, extra: true });
        expect(!r.ok && r.error.type).toBe('VALIDATION_ERROR');
      }
      const r = await request(s, 'subscribe', { channel: 'org:org-rl' });
      expect(!r.ok && r.error.type).toBe('RATE_LIMIT_EXCEEDED');
    },
  );

  it.skipIf(skip)('one bucket per user across sockets and namespaces', async () => {
    const user = uid('shared');
    const a = await open(user);
    const b = await open(user, '/communication');
    expect((await request(a, 'ping')).ok).toBe(true);
    expect((await request(b, 'ping')).ok).toBe(true);
    expect((await request(a, 'ping')).ok).toBe(true);
    const r = await request(b, 'ping');
    expect(!r.ok && r.error.type).toBe('RATE_LIMIT_EXCEEDED');
    // Another user is not affected.
    expect((await request(await open(uid('other')), 'ping')).ok).toBe(true);
  });

  it.skipIf(skip)(
    'caps live sockets per user per namespace; a closed socket frees its slot',
    async () => {
      const user = uid('cap');
      const t = await token(user);
      const a = await open(user);
      await open(user);
      const err = await connectError(srv.url, t);
      expect(err.message).toBe('RATE_LIMIT_EXCEEDED');
      expect(err.data?.type).toBe('RATE_LIMIT_EXCEEDED');
      expect(typeof (err.data?.details as { retryAfterMs?: number }).retryAfterMs).toBe('number');
      // The cap is per namespace.
      await open(user, '/communication');
      a.close();
      const again = await connectEventually(srv.url, t);
      sockets.push(again.socket);
      expect(again.confirmed.userId).toBe(user);
    },
  );

  it.skipIf(skip)(
    'operators read and reset a user’s buckets through RateLimitService',
    async () => {
      const { RateLimitService } = await import('../src/rate-limit/rate-limit.service.js');
      const limits = srv.app.get(RateLimitService);
      const userId = uid('ops');
      const user = { organizationId: 'org-rl', userId };
      const s = await open(userId);
      expect(await limits.tokensLeft(user, 'ping')).toBe(3);
      await request(s, 'ping');
      await request(s, 'ping');
      expect(await limits.tokensLeft(user, 'ping')).toBe(1);
      // `ping` and `handshake:user` (spent by the connect): exactly the buckets that exist.
      expect(await limits.resetUser(user)).toBe(2);
      expect(await limits.tokensLeft(user, 'ping')).toBe(3);
      expect(await limits.resetUser(user)).toBe(0);
    },
  );

  it.skipIf(skip || !redis)(
    'Redis: a user’s buckets carry one hash tag per user; the untagged names of older versions are never read',
    async () => {
      const { Redis } = await import('ioredis');
      const client = new Redis(REDIS_TEST_URL);
      client.on('error', () => undefined);
      try {
        const rl = `${srv.config.redis!.keyPrefix}rl:`;
        const userId = uid('tagged');
        // An exhausted bucket under the name an older version used (`user:<org>:<user>:<event>`).
        const old = `${rl}user:org-rl:${userId}:ping`;
        await client.hset(old, 'tokens', '0', 'ts', String(Date.now()));
        await client.pexpire(old, 60_000);
        const s = await open(userId);
        // The old bucket does not limit: three pings, the fourth refused (the new bucket's own).
        for (let i = 0; i < 3; i++) expect((await request(s, 'ping')).ok).toBe(true);
        expect((await request(s, 'ping')).ok).toBe(false);
        const tag = `{org-rl:${userId}}`;
        expect(await client.exists(`${rl}user:${tag}:ping`)).toBe(1);
        expect(await client.exists(`${rl}user:${tag}:handshake:user`)).toBe(1);
        // The reset drops the new names only; the old key is left to expire.
        const { RateLimitService } = await import('../src/rate-limit/rate-limit.service.js');
        const limits = srv.app.get(RateLimitService);
        expect(await limits.resetUser({ organizationId: 'org-rl', userId })).toBe(2);
        expect(await client.exists(`${rl}user:${tag}:ping`)).toBe(0);
        expect(await client.exists(old)).toBe(1);
        expect((await request(s, 'ping')).ok).toBe(true);
      } finally {
        await client.quit();
      }
    },
  );

  it.skipIf(skip)(
    'message:send: the 11th in a burst is RATE_LIMIT_EXCEEDED with retryAfterMs and stores nothing',
    async () => {
      const user = uid('sender');
      const peer = uid('peer');
      const s = await open(user);
      const p = await open(peer);
      const created = await request(s, 'conversation:create', { participantIds: [peer] });
      const conversationId = created.ok ? created.data.conversation.id : '';
      const results = [];
      for (let i = 0; i < 11; i++) {
        results.push(
          await request(s, 'message:send', {
            messageId: randomUUID(),
            conversationId,
            content: `m${i}`,
          }),
        );
      }
      expect(results.slice(0, 10).every((r) => r.ok)).toBe(true);
      const last = results[10];
      expect(!last.ok && last.error.type).toBe('RATE_LIMIT_EXCEEDED');
      const retry = !last.ok ? (last.error.details as { retryAfterMs: number }).retryAfterMs : 0;
      expect(retry).toBeGreaterThan(4000);
      expect(retry).toBeLessThanOrEqual(6000);
      const page = await request(p, 'conversation:join', { conversationId, afterSeq: 0 });
      expect(page.ok && page.data.messages.length).toBe(10);
    },
  );

  it.skipIf(skip)(
    'message:typing over its limit is dropped silently: ok with {} and nothing emitted',
    async () => {
      const user = uid('typer');
      const peer = uid('watcher');
      const s = await open(user);
      const w = await connect(srv.url, await token(peer), { record: ['message:typing'] });
      sockets.push(w.socket);
      const created = await request(s, 'conversation:create', { participantIds: [peer] });
      const conversationId = created.ok ? created.data.conversation.id : '';
      await request(w.socket, 'conversation:join', { conversationId });
      for (let i = 0; i < 5; i++) {
        expect(
          await request(s, 'message:typing', { conversationId, isTyping: i % 2 === 0 }),
        ).toEqual({ ok: true, data: {} });
      }
      await w.recorder.until((r) => r.of('message:typing').length === 5);
      const over = await request(s, 'message:typing', { conversationId, isTyping: true });
      expect(over).toEqual({ ok: true, data: {} });
      await settle(s);
      await settle(w.socket);
      expect(w.recorder.of('message:typing')).toHaveLength(5);
    },
  );

  it.skipIf(skip)(
    'per-IP handshake limit (spent by refused handshakes only, §12.3): RATE_LIMIT_EXCEEDED with retryAfterMs, valid tokens still connect',
    async () => {
      const limited = await startServer({
        env: {
          RATE_LIMITS: JSON.stringify({
            'handshake:ip': { maxTokens: 2, refillIntervalMs: 60_000 },
          }),
          ...redisEnv(),
        },
      });
      try {
        expect((await connectError(limited.url, 'bad-1')).message).toBe('AUTHENTICATION_FAILED');
        expect((await connectError(limited.url, 'bad-2')).message).toBe('AUTHENTICATION_FAILED');
        const err = await connectError(limited.url, 'bad-3');
        expect(err.message).toBe('RATE_LIMIT_EXCEEDED');
        expect(err.data?.type).toBe('RATE_LIMIT_EXCEEDED');
        expect((err.data?.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(
          50_000,
        );
        const t = await token(uid('ip'));
        const a = await connect(limited.url, t);
        const b = await connect(limited.url, t, { namespace: '/communication' });
        closeAll(a.socket, b.socket);
      } finally {
        await limited.close();
      }
    },
  );
});

describe.skipIf(!hasRedis())('rate limits across two nodes (same Redis)', () => {
  let a: TestServer;
  let b: TestServer;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    const env = {
      REDIS_URL: REDIS_TEST_URL,
      REDIS_KEY_PREFIX: redisPrefix('rl2n'),
      RATE_LIMITS: JSON.stringify(LIMITS),
      WS_MAX_CONNECTIONS_PER_USER: '2',
    };
    [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  });
  afterAll(async () => {
    closeAll(...sockets);
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a user’s bucket is shared by sockets on different nodes', async () => {
    const user = uid('x');
    const t = await token(user);
    const sa = (await connect(a.url, t)).socket;
    const sb = (await connect(b.url, t)).socket;
    sockets.push(sa, sb);
    expect((await request(sa, 'ping')).ok).toBe(true);
    expect((await request(sb, 'ping')).ok).toBe(true);
    expect((await request(sa, 'ping')).ok).toBe(true);
    const r = await request(sb, 'ping');
    expect(!r.ok && r.error.type).toBe('RATE_LIMIT_EXCEEDED');
    const r2 = await request(sa, 'ping');
    expect(!r2.ok && r2.error.type).toBe('RATE_LIMIT_EXCEEDED');
  });

  it('the per-user socket cap counts sockets on every node', async () => {
    const user = uid('capx');
    const t = await token(user);
    const s1 = (await connect(a.url, t)).socket;
    const s2 = (await connect(b.url, t)).socket;
    sockets.push(s1, s2);
    expect((await connectError(a.url, t)).message).toBe('RATE_LIMIT_EXCEEDED');
    expect((await connectError(b.url, t)).message).toBe('RATE_LIMIT_EXCEEDED');
    s2.close();
    const again = await connectEventually(a.url, t);
    sockets.push(again.socket);
  });
});

describe('operators’ HTTP API for rate limits', () => {
  const srv = useServer({ env: { RATE_LIMITS: JSON.stringify(LIMITS) } });
  const sockets: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...sockets);
  });
  type UserView = {
    userId: string;
    organizationId: string;
    buckets: Array<{
      event: string;
      maxTokens: number;
      refillIntervalMs: number;
      tokensLeft: number;
    }>;
  };
  const bucket = (v: UserView, event: string) => v.buckets.find((b) => b.event === event);

  it('shows a user’s tokens per event and resets them (service token: any user)', async () => {
    const user = uid('op');
    const s = (await connect(srv.url, await token(user, 'org-op'))).socket;
    sockets.push(s);
    await request(s, 'ping');
    await request(s, 'ping');
    const service = await signToken({ userId: 'svc', organizationId: 'platform', role: 'service' });
    // §12.1: a user is (organizationId, userId); a service names the organization.
    const before = await http<UserView>(
      srv.url,
      'GET',
      `/api/v1/rate-limits/${user}?organizationId=org-op`,
      { token: service },
    );
    expect(before.status).toBe(200);
    expect(bucket(before.body, 'ping')).toEqual({
      event: 'ping',
      maxTokens: 3,
      refillIntervalMs: 60_000,
      tokensLeft: 1,
    });
    expect(bucket(before.body, 'message:send')).toMatchObject({
      maxTokens: 10,
      refillIntervalMs: 6000,
      tokensLeft: 10,
    });
    const reset = await http<{ bucketsReset: number }>(
      srv.url,
      'POST',
      `/api/v1/rate-limits/${user}/reset?organizationId=org-op`,
      { token: service },
    );
    expect(reset.status).toBe(200);
    // `ping`'s bucket and the user's `handshake:user` bucket (spent by the connect, §12.3).
    expect(reset.body).toEqual({ userId: user, organizationId: 'org-op', bucketsReset: 2 });
    const after = await http<UserView>(
      srv.url,
      'GET',
      `/api/v1/rate-limits/${user}?organizationId=org-op`,
      { token: service },
    );
    expect(bucket(after.body, 'ping')?.tokensLeft).toBe(3);
    expect((await request(s, 'ping')).ok).toBe(true);
    const overview = await http<{ limits: Record<string, unknown> }>(
      srv.url,
      'GET',
      '/api/v1/rate-limits',
      { token: service },
    );
    expect(overview.status).toBe(200);
    expect(overview.body.limits['message:send']).toEqual({ maxTokens: 10, refillIntervalMs: 6000 });
  });

  it('admins: members of their own organization only; other roles 403; no token 401; bad id 400', async () => {
    const member = uid('mem');
    const s = (await connect(srv.url, await token(member, 'org-a'))).socket; // being seen makes a member
    sockets.push(s);
    const adminA = await signToken({ userId: 'adm-a', organizationId: 'org-a', role: 'admin' });
    const adminB = await signToken({ userId: 'adm-b', organizationId: 'org-b', role: 'admin' });
    const nurse = await signToken({ userId: 'n1', organizationId: 'org-a', role: 'nurse' });
    const ok200 = await waitForStatus(
      () => http(srv.url, 'GET', `/api/v1/rate-limits/${member}`, { token: adminA }),
      200,
    );
    expect(ok200).toBe(200);
    expect(
      (await http(srv.url, 'POST', `/api/v1/rate-limits/${member}/reset`, { token: adminB }))
        .status,
    ).toBe(403);
    expect(
      (await http(srv.url, 'GET', `/api/v1/rate-limits/${member}`, { token: nurse })).status,
    ).toBe(403);
    expect((await http(srv.url, 'GET', `/api/v1/rate-limits/${member}`)).status).toBe(401);
    const bad = await http<{ type: string }>(
      srv.url,
      'GET',
      `/api/v1/rate-limits/${encodeURIComponent('a b')}`,
      { token: adminA },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.type).toBe('VALIDATION_ERROR');
  });
});

/** Membership is recorded right after the handshake; poll (bounded) until the API sees it. */
async function waitForStatus(
  call: () => Promise<{ status: number }>,
  want: number,
  timeoutMs = 5000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await call();
    if (status === want || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
}
