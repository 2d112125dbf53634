import { afterAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  connectError,
  ok,
  request,
  settle,
  type TestSocket,
} from '../support/client.js';
import { http } from '../support/http.js';
import { connectReady } from '../support/realtime.js';
import { useServer } from '../support/server.js';
import { hasRedis, redisPrefix, REDIS_TEST_URL } from '../support/services.js';
import { signToken } from '../support/tokens.js';
import { uid as uniq } from '../support/ids.js';

/**
 * §12.1 attacks: the same user id (`nurse-1`) in two organizations is two users. An org-A admin
 * or service publishing to `user:nurse-1`, a user of org A spending tokens or holding sockets,
 * an operator reading or resetting buckets: none of it may touch org B's `nurse-1`.
 */

describe('tenant isolation: user channels and publish', () => {
  const srv = useServer();
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  it('an org-A admin publishing to user:nurse-1 reaches org A’s nurse-1 only, never org B’s', async () => {
    const [A, B] = [uniq('tiA'), uniq('tiB')];
    const a = await connectReady(srv.url, { userId: 'nurse-1', organizationId: A, role: 'nurse' }, [
      'channel:message',
    ]);
    const b = await connectReady(srv.url, { userId: 'nurse-1', organizationId: B, role: 'nurse' }, [
      'channel:message',
    ]);
    open.push(a.socket, b.socket);
    // Org B's nurse-1 even subscribes to the channel by name: still nothing of A's.
    await ok(b.socket, 'subscribe', { channel: 'user:nurse-1' });
    const adminA = await signToken({ userId: 'admin-a', organizationId: A, role: 'admin' });
    const res = await http<{ channel: string; publishedAt: string }>(
      srv.url,
      'POST',
      '/api/v1/channels/publish',
      { token: adminA, body: { channel: 'user:nurse-1', event: 'note', data: { n: 1 } } },
    );
    expect(res.status).toBe(202);
    await a.recorder.until((r) => r.of('channel:message').length === 1);
    expect(a.recorder.of('channel:message')[0]).toEqual({
      channel: 'user:nurse-1',
      event: 'note',
      data: { n: 1 },
      publishedAt: res.body.publishedAt,
    });
    // A service token of org A: by default its own organization as well.
    const serviceA = await signToken({ userId: 'svc-a', organizationId: A, role: 'service' });
    expect(
      (
        await http(srv.url, 'POST', '/api/v1/channels/publish', {
          token: serviceA,
          body: { channel: 'user:nurse-1', event: 'note', data: { n: 2 } },
        })
      ).status,
    ).toBe(202);
    await a.recorder.until((r) => r.of('channel:message').length === 2);
    await settle(b.socket);
    expect(b.recorder.of('channel:message')).toEqual([]);

    // The service names org B explicitly: B's nurse-1 gets it, A's does not.
    const toB = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: serviceA,
      body: { channel: 'user:nurse-1', event: 'note', data: { n: 3 }, organizationId: B },
    });
    expect(toB.status).toBe(202);
    await b.recorder.until((r) => r.of('channel:message').length === 1);
    expect(b.recorder.of('channel:message')[0]).toMatchObject({ data: { n: 3 } });
    await settle(a.socket);
    expect(a.recorder.of('channel:message').map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('an admin naming another organization is refused (403); an org: channel with another organizationId is 400', async () => {
    const [A, B] = [uniq('tiA'), uniq('tiB')];
    const b = await connectReady(srv.url, { userId: 'nurse-1', organizationId: B, role: 'nurse' }, [
      'channel:message',
    ]);
    open.push(b.socket);
    const adminA = await signToken({ userId: 'admin-a', organizationId: A, role: 'admin' });
    const cross = await http<{ type: string }>(srv.url, 'POST', '/api/v1/channels/publish', {
      token: adminA,
      body: { channel: 'user:nurse-1', event: 'x', organizationId: B },
    });
    expect(cross.status).toBe(403);
    expect(cross.body.type).toBe('AUTHORIZATION_FAILED');
    // Org A's admin addressing a user who never connected to A (B's nurse-1 is no member of A).
    const nonMember = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: adminA,
      body: { channel: 'user:nurse-1', event: 'x' },
    });
    expect(nonMember.status).toBe(403);
    const service = await signToken({ userId: 'svc', organizationId: A, role: 'service' });
    const mismatch = await http<{ type: string; details: unknown }>(
      srv.url,
      'POST',
      '/api/v1/channels/publish',
      { token: service, body: { channel: `org:${B}`, event: 'x', organizationId: A } },
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toMatchObject({
      type: 'VALIDATION_ERROR',
      details: [{ field: 'organizationId', constraints: ['matchesChannelOrganization'] }],
    });
    const badOrg = await http<{ type: string }>(srv.url, 'POST', '/api/v1/channels/publish', {
      token: service,
      body: { channel: 'user:nurse-1', event: 'x', organizationId: 'no such org!' },
    });
    expect(badOrg.status).toBe(400);
    expect(badOrg.body.type).toBe('VALIDATION_ERROR');
    await settle(b.socket);
    expect(b.recorder.of('channel:message')).toEqual([]);
  });

  it('user:<id>:<topic> channels: own only, `role` reserved, delivered within one organization', async () => {
    const [A, B] = [uniq('tiA'), uniq('tiB')];
    const a = await connectReady(srv.url, { userId: 'nurse-1', organizationId: A, role: 'nurse' }, [
      'channel:message',
    ]);
    const b = await connectReady(srv.url, { userId: 'nurse-1', organizationId: B, role: 'nurse' }, [
      'channel:message',
    ]);
    open.push(a.socket, b.socket);
    for (const s of [a.socket, b.socket])
      expect(await request(s, 'subscribe', { channel: 'user:nurse-1:meds' })).toEqual({
        ok: true,
        data: { channel: 'user:nurse-1:meds' },
      });
    const refused: Array<[string, string]> = [
      ['user:nurse-2:meds', 'AUTHORIZATION_FAILED'],
      ['user:nurse-1:role', 'AUTHORIZATION_FAILED'],
      ['user:nurse-1:Bad', 'VALIDATION_ERROR'],
      ['user:nurse-1:a:b', 'VALIDATION_ERROR'],
    ];
    for (const [channel, type] of refused) {
      const res = await request(a.socket, 'subscribe', { channel });
      expect(!res.ok && res.error.type, channel).toBe(type);
    }
    // The automatic user channel cannot be left; a user topic can.
    const leave = await request(a.socket, 'unsubscribe', { channel: 'user:nurse-1' });
    expect(!leave.ok && leave.error.type).toBe('BAD_REQUEST');

    const adminA = await signToken({ userId: 'admin-a', organizationId: A, role: 'admin' });
    const res = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: adminA,
      body: { channel: 'user:nurse-1:meds', event: 'due', data: { bed: 4 } },
    });
    expect(res.status).toBe(202);
    await a.recorder.until((r) => r.of('channel:message').length === 1);
    expect(a.recorder.of('channel:message')[0]).toMatchObject({
      channel: 'user:nurse-1:meds',
      event: 'due',
      data: { bed: 4 },
    });
    await settle(b.socket);
    expect(b.recorder.of('channel:message')).toEqual([]);
    const role = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: adminA,
      body: { channel: 'user:nurse-1:role', event: 'x' },
    });
    expect(role.status).toBe(403);

    expect(await request(a.socket, 'unsubscribe', { channel: 'user:nurse-1:meds' })).toEqual({
      ok: true,
      data: { channel: 'user:nurse-1:meds' },
    });
    await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: adminA,
      body: { channel: 'user:nurse-1:meds', event: 'due', data: { bed: 5 } },
    });
    await settle(a.socket);
    expect(a.recorder.of('channel:message')).toHaveLength(1);
  });

  it('presence is per organization: org A’s nurse-1 online does not make org B’s nurse-1 online', async () => {
    const [A, B] = [uniq('tiA'), uniq('tiB')];
    const a = await connectReady(srv.url, { userId: 'nurse-1', organizationId: A, role: 'nurse' });
    const watcherB = await connectReady(srv.url, { userId: 'w', organizationId: B, role: 'nurse' });
    open.push(a.socket, watcherB.socket);
    expect(await ok(watcherB.socket, 'presence:query', { userIds: ['nurse-1'] })).toEqual({
      users: [{ userId: 'nurse-1', status: 'offline', lastSeenAt: null }],
    });
  });
});

/**
 * Buckets, the connection cap and the operators' endpoints, in memory (one node) and in Redis
 * (the Lua stores). With the old keys (`user:<id>:<event>`, `conn:<ns>:<id>`) org A's nurse-1
 * muted and locked out org B's.
 */
describe.each([
  { store: 'memory', redis: false },
  { store: 'redis', redis: true },
])('tenant isolation: rate-limit buckets and connection cap ($store)', ({ redis }) => {
  const skip = redis && !hasRedis();
  const srv = useServer(
    {
      env: {
        RATE_LIMITS: JSON.stringify({
          'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
          default: { maxTokens: 3, refillIntervalMs: 60_000 },
        }),
        WS_MAX_CONNECTIONS_PER_USER: '2',
        ...(redis ? { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix('tenant') } : {}),
      },
    },
    { skip },
  );
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  const tokenFor = (organizationId: string, userId = 'nurse-1', role = 'nurse') =>
    signToken({ userId, organizationId, role });

  it.skipIf(skip)(
    'spending every token of org A’s nurse-1 leaves org B’s nurse-1 untouched',
    async () => {
      const [A, B] = [uniq('rlA'), uniq('rlB')];
      const a = await connect(srv.url, await tokenFor(A));
      const b = await connect(srv.url, await tokenFor(B));
      open.push(a.socket, b.socket);
      for (let i = 0; i < 3; i++) expect((await request(a.socket, 'ping')).ok).toBe(true);
      const over = await request(a.socket, 'ping');
      expect(!over.ok && over.error.type).toBe('RATE_LIMIT_EXCEEDED');
      for (let i = 0; i < 3; i++) expect((await request(b.socket, 'ping')).ok).toBe(true);
    },
  );

  it.skipIf(skip)(
    'org A’s nurse-1 holding every slot does not lock out org B’s nurse-1',
    async () => {
      const [A, B] = [uniq('capA'), uniq('capB')];
      const tA = await tokenFor(A);
      open.push((await connect(srv.url, tA)).socket, (await connect(srv.url, tA)).socket);
      expect((await connectError(srv.url, tA)).message).toBe('RATE_LIMIT_EXCEEDED');
      const tB = await tokenFor(B);
      const b1 = await connect(srv.url, tB);
      const b2 = await connect(srv.url, tB);
      open.push(b1.socket, b2.socket);
      expect(b2.confirmed.organizationId).toBe(B);
      expect((await connectError(srv.url, tB)).message).toBe('RATE_LIMIT_EXCEEDED');
    },
  );

  it.skipIf(skip)(
    'operators’ rate-limit endpoints read and reset one organization’s user only',
    async () => {
      const [A, B] = [uniq('opA'), uniq('opB')];
      // Ready: recorded as members, which an admin's rights resolve through.
      const a = await connectReady(srv.url, {
        userId: 'nurse-1',
        organizationId: A,
        role: 'nurse',
      });
      const b = await connectReady(srv.url, {
        userId: 'nurse-1',
        organizationId: B,
        role: 'nurse',
      });
      open.push(a.socket, b.socket);
      await request(a.socket, 'ping');
      await request(a.socket, 'ping');
      await request(b.socket, 'ping');
      type View = { organizationId: string; buckets: Array<{ event: string; tokensLeft: number }> };
      const ping = (v: View) => v.buckets.find((x) => x.event === 'ping')?.tokensLeft;
      const adminA = await tokenFor(A, 'admin-a', 'admin');
      const mine = await http<View>(srv.url, 'GET', '/api/v1/rate-limits/nurse-1', {
        token: adminA,
      });
      expect(mine.status).toBe(200);
      expect(mine.body.organizationId).toBe(A);
      expect(ping(mine.body)).toBe(1);
      // Org A's admin may neither read nor reset org B's nurse-1.
      for (const [method, path] of [
        ['GET', `/api/v1/rate-limits/nurse-1?organizationId=${B}`],
        ['POST', `/api/v1/rate-limits/nurse-1/reset?organizationId=${B}`],
      ] as const) {
        const r = await http<{ type: string }>(srv.url, method, path, { token: adminA });
        expect(r.status, path).toBe(403);
        expect(r.body.type).toBe('AUTHORIZATION_FAILED');
      }
      const reset = await http(srv.url, 'POST', '/api/v1/rate-limits/nurse-1/reset', {
        token: adminA,
      });
      expect(reset.status).toBe(200);
      // `ping`'s bucket and the `handshake:user` bucket its connect spent (§12.3).
      expect(reset.body).toEqual({ userId: 'nurse-1', organizationId: A, bucketsReset: 2 });
      // A service reads both: A's is full again, B's still spent.
      const service = await signToken({ userId: 'svc', organizationId: 'ops', role: 'service' });
      const viewA = await http<View>(
        srv.url,
        'GET',
        `/api/v1/rate-limits/nurse-1?organizationId=${A}`,
        { token: service },
      );
      const viewB = await http<View>(
        srv.url,
        'GET',
        `/api/v1/rate-limits/nurse-1?organizationId=${B}`,
        { token: service },
      );
      expect([ping(viewA.body), ping(viewB.body)]).toEqual([3, 2]);
      const bad = await http<{ type: string }>(
        srv.url,
        'GET',
        '/api/v1/rate-limits/nurse-1?organizationId=a:b',
        { token: service },
      );
      expect(bad.status).toBe(400);
      expect(bad.body.type).toBe('VALIDATION_ERROR');
    },
  );
});
