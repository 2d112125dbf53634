import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, ok, settle, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import { connectReady } from './support/realtime.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';

describe('HTTP API', () => {
  const srv = useServer();
  const open: TestSocket[] = [];
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    tokens.nurse = await signToken({ userId: 'h-nurse', organizationId: 'hA', role: 'nurse' });
    tokens.staff = await signToken({ userId: 'h-staff', organizationId: 'hA', role: 'staff' });
    tokens.foreignAdmin = await signToken({
      userId: 'h-badmin',
      organizationId: 'hB',
      role: 'admin',
    });
    tokens.admin = await signToken({ userId: 'h-admin', organizationId: 'hA', role: 'admin' });
    tokens.service = await signToken({ userId: 'h-svc', organizationId: 'hZ', role: 'service' });
    // members of hA, so roles resolve and the admin may address them
    open.push(
      (await connectReady(srv.url, { userId: 'h-member', organizationId: 'hA', role: 'nurse' }))
        .socket,
    );
  });
  afterAll(async () => {
    closeAll(...open);
  });

  const dueAt = new Date(Date.now() + 3600_000).toISOString();
  const requests: Array<{
    name: string;
    path: string;
    body: Record<string, unknown>;
    okStatus: number;
  }> = [
    {
      name: 'notifications',
      path: '/api/v1/notifications',
      okStatus: 202,
      body: { organizationId: 'hA', userIds: ['h-member'], type: 'info', title: 'T' },
    },
    {
      name: 'emergency',
      path: '/api/v1/alerts/emergency',
      okStatus: 202,
      body: { organizationId: 'hA', title: 'T', message: 'M' },
    },
    {
      name: 'medication-reminder',
      path: '/api/v1/alerts/medication-reminder',
      okStatus: 202,
      body: { organizationId: 'hA', studentId: 's1', title: 'T', message: 'M', dueAt },
    },
    {
      name: 'health',
      path: '/api/v1/alerts/health',
      okStatus: 202,
      body: { organizationId: 'hA', studentId: 's1', title: 'T', message: 'M', severity: 'info' },
    },
    {
      name: 'publish',
      path: '/api/v1/channels/publish',
      okStatus: 202,
      body: { channel: 'org:hA:drills', event: 'drill', data: { n: 1 } },
    },
    {
      name: 'revoke',
      path: '/api/v1/sessions/revoke',
      okStatus: 200,
      body: { userId: 'h-member-gone' },
    },
  ];

  describe.each(requests)('auth matrix: $name', ({ path, body, okStatus, name }) => {
    it('no token and a bad token → 401', async () => {
      const none = await http(srv.url, 'POST', path, { body });
      expect(none.status).toBe(401);
      expect(none.body.type).toBe('AUTHENTICATION_FAILED');
      expect(String(none.body.message)).toContain('missing');
      const bad = await http(srv.url, 'POST', path, { body, token: 'not.a.jwt' });
      expect(bad.status).toBe(401);
      const expired = await http(srv.url, 'POST', path, {
        body,
        token: await signToken({ userId: 'x', organizationId: 'hA', role: 'admin', ttl: -120 }),
      });
      expect(expired.status).toBe(401);
    });
    it('nurse and staff → 403', async () => {
      for (const t of [tokens.nurse, tokens.staff]) {
        const r = await http(srv.url, 'POST', path, { body, token: t });
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ type: 'AUTHORIZATION_FAILED' });
      }
    });
    it('admin of another organization → 403', async () => {
      const r = await http(srv.url, 'POST', path, { body, token: tokens.foreignAdmin });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ type: 'AUTHORIZATION_FAILED' });
    });
    it('admin of the organization and service → accepted', async () => {
      if (name === 'revoke') {
        // an admin revokes members of its own organization only
        const r = await http(srv.url, 'POST', path, {
          body: { userId: 'h-member2' },
          token: tokens.admin,
        });
        expect(r.status).toBe(403);
      } else {
        const r = await http(srv.url, 'POST', path, { body, token: tokens.admin });
        expect(r.status).toBe(okStatus);
      }
      const s = await http(srv.url, 'POST', path, { body, token: tokens.service });
      expect(s.status).toBe(okStatus);
    });
  });

  it('bad bodies: 400 VALIDATION_ERROR with field details, malformed JSON 400 BAD_REQUEST, oversize 413', async () => {
    const t = tokens.service;
    const missing = await http(srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: t,
      body: { organizationId: 'hA', message: 'M' },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.type).toBe('VALIDATION_ERROR');
    const details = missing.body.details as Array<{ field: string; constraints: string[] }>;
    expect(details.map((d) => d.field)).toEqual(['title']);
    expect(details[0].constraints).toContain('isString');

    const unknown = await http(srv.url, 'POST', '/api/v1/notifications', {
      token: t,
      body: {
        organizationId: 'hA',
        userIds: ['a'],
        type: 'x',
        title: 'T',
        secret: 'SECRET-VALUE-9',
      },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([
      { field: 'secret', constraints: ['whitelistValidation'] },
    ]);
    expect(JSON.stringify(unknown.body)).not.toContain('SECRET-VALUE-9');

    const badIds = await http(srv.url, 'POST', '/api/v1/notifications', {
      token: t,
      body: { organizationId: 'hA', userIds: ['ok', 'not ok'], type: 'x', title: 'T' },
    });
    expect(badIds.body.details).toEqual([{ field: 'userIds.1', constraints: ['matches'] }]);
    const badType = await http(srv.url, 'POST', '/api/v1/notifications', {
      token: t,
      body: { organizationId: 'hA', userIds: ['a'], type: 'Bad Type', title: 'x'.repeat(201) },
    });
    expect(badType.body.details).toEqual(
      expect.arrayContaining([
        { field: 'type', constraints: ['matches'] },
        { field: 'title', constraints: ['maxLength'] },
      ]),
    );
    const badSeverity = await http(srv.url, 'POST', '/api/v1/alerts/health', {
      token: t,
      body: { organizationId: 'hA', studentId: 's', title: 'T', message: 'M', severity: 'huge' },
    });
    expect(badSeverity.body.details).toEqual([{ field: 'severity', constraints: ['isIn'] }]);
    const badDate = await http(srv.url, 'POST', '/api/v1/alerts/medication-reminder', {
      token: t,
      body: { organizationId: 'hA', studentId: 's', title: 'T', message: 'M', dueAt: 'tomorrow' },
    });
    expect(badDate.body.details).toEqual([{ field: 'dueAt', constraints: ['isIso8601'] }]);
    const past = await http(srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: t,
      body: { organizationId: 'hA', title: 'T', message: 'M', expiresAt: '2020-01-01T00:00:00Z' },
    });
    expect(past.body.details).toEqual([{ field: 'expiresAt', constraints: ['minDate'] }]);
    const notObject = await http(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: t,
      body: ['x'],
    });
    expect(notObject.status).toBe(400);
    expect(notObject.body.details).toEqual([{ field: '$', constraints: ['isObject'] }]);
    const proto = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: t,
      rawBody: '{"channel":"org:hA","event":"e","data":{"__proto__":{"x":1}}}',
    });
    expect(proto.body.details).toEqual([{ field: '$', constraints: ['forbiddenKey'] }]);
    const badChannel = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: t,
      body: { channel: 'room:1', event: 'e', data: 1 },
    });
    expect(badChannel.status).toBe(400);
    expect(badChannel.body).toMatchObject({
      type: 'VALIDATION_ERROR',
      details: [{ field: 'channel', constraints: ['matches'] }],
    });

    const malformed = await http(srv.url, 'POST', '/api/v1/notifications', {
      token: t,
      rawBody: '{"organizationId": ',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ type: 'BAD_REQUEST' });
    const huge = await http(srv.url, 'POST', '/api/v1/notifications', {
      token: t,
      rawBody: JSON.stringify({ organizationId: 'hA', title: 'x'.repeat(300_000) }),
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ type: 'BAD_REQUEST' });
  });

  it('publish reaches the subscribers of the channel only', async () => {
    const sub = await connectReady(srv.url, { userId: 'c-sub', organizationId: 'hA' }, [
      'channel:message',
    ]);
    const nonSub = await connectReady(srv.url, { userId: 'c-non', organizationId: 'hA' }, [
      'channel:message',
    ]);
    const foreign = await connectReady(srv.url, { userId: 'c-foreign', organizationId: 'hB' }, [
      'channel:message',
    ]);
    open.push(sub.socket, nonSub.socket, foreign.socket);
    await ok(sub.socket, 'subscribe', { channel: 'org:hA:drills' });
    const r = await http<{ channel: string; publishedAt: string }>(
      srv.url,
      'POST',
      '/api/v1/channels/publish',
      {
        token: tokens.admin,
        body: { channel: 'org:hA:drills', event: 'drill:start', data: { zone: 3 } },
      },
    );
    expect(r.status).toBe(202);
    expect(r.body.channel).toBe('org:hA:drills');
    await sub.recorder.until((rec) => rec.of('channel:message').length === 1);
    expect(sub.recorder.of('channel:message')[0]).toEqual({
      channel: 'org:hA:drills',
      event: 'drill:start',
      data: { zone: 3 },
      publishedAt: r.body.publishedAt,
    });
    for (const c of [nonSub, foreign]) await settle(c.socket);
    expect(nonSub.recorder.of('channel:message')).toEqual([]);
    expect(foreign.recorder.of('channel:message')).toEqual([]);

    // user channels: the admin may address members of its organization only
    const toUser = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: tokens.admin,
      body: { channel: 'user:c-non', event: 'ping', data: null },
    });
    expect(toUser.status).toBe(202);
    await nonSub.recorder.until((rec) => rec.of('channel:message').length === 1);
    const toForeignUser = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: tokens.admin,
      body: { channel: 'user:c-foreign', event: 'ping' },
    });
    expect(toForeignUser.status).toBe(403);
    const role = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: tokens.service,
      body: { channel: 'org:hA:role', event: 'x' },
    });
    expect(role.status).toBe(403);
  });

  it('health, readiness and metrics', async () => {
    expect((await http(srv.url, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await http(srv.url, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'up', redis: 'disabled' } });
    const metrics = await http<string>(srv.url, 'GET', '/metrics');
    for (const name of [
      'realtime_connections',
      'realtime_events_total',
      'realtime_alert_deliveries_total',
      'realtime_database_up 1',
    ]) {
      expect(metrics.body).toContain(name);
    }
  });

  it('HTTP logs carry no bodies or tokens', () => {
    const text = srv.logs.join('\n');
    expect(text).not.toContain('SECRET-VALUE-9');
    expect(text).not.toContain(tokens.service);
    expect(text).toContain('/api/v1/notifications');
  });
});
