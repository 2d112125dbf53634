/**
 * Finding 6 (high): PHI in error logs. drizzle's query errors carry the parameters, and the HTTP
 * exception filter and the socket error path logged stack lines that included them. §12.3: a
 * database error is logged by class, SQLSTATE and constraint name only.
 *
 * One marker string goes into every text field of every event and endpoint; the run provokes
 * every failure it can (validation, control characters, database refusals, constraint conflicts,
 * a connection killed mid-transaction, Redis down) against a spawned server at LOG_LEVEL=trace,
 * and no line it wrote (stdout or stderr) may carry the marker or a token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, rawRequest, request, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { GENEROUS_LIMITS, user, type Client } from '../support/messaging.js';
import { OwnRedis } from '../support/redis-server.js';
import { hasPostgres } from '../support/services.js';
import { signToken } from '../support/tokens.js';
import { lockTable, spawnOnPostgres, type SpawnedServer } from './support.js';

const M = 'PHI-MARKER-7f3e9a';
const ORG = 'phi-org';

describe.skipIf(!hasPostgres())('no PHI or token in any log line (§8, §12.3)', () => {
  let sp: SpawnedServer;
  let redis: OwnRedis;
  let service: string;
  let admin: string;
  const tokens: string[] = [];
  let nurse: Client;
  let other: Client;
  let conversationId: string;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    sp = await spawnOnPostgres({
      RATE_LIMITS: GENEROUS_LIMITS,
      LOG_LEVEL: 'trace',
      REDIS_URL: redis.url,
    });
    service = await signToken({ userId: 'phi-svc', organizationId: ORG, role: 'service' });
    admin = await signToken({ userId: 'phi-admin', organizationId: ORG, role: 'admin' });
    tokens.push(service, admin);
    nurse = await user(sp.url, 'phi-nurse', ORG, { role: 'nurse' });
    other = await user(sp.url, 'phi-other', ORG, { role: 'staff' });
    open.push(nurse.socket, other.socket);
  });
  afterAll(async () => {
    closeAll(...open);
    await sp?.close();
    await redis?.down();
  });

  const api = (path: string, body: unknown, token = service) =>
    http(sp.url, 'POST', path, { token, body });
  const dueAt = new Date(Date.now() + 3600_000).toISOString();

  it('every text field, accepted: conversation, message, edit, notification, alerts, publish', async () => {
    const created = await request(nurse.socket, 'conversation:create', {
      participantIds: ['phi-other'],
      title: `${M} title`,
    });
    if (!created.ok) throw new Error('create failed');
    conversationId = created.data.conversation.id;
    const sent = await request(nurse.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId,
      content: `${M} content`,
      metadata: { [M]: `${M} value`, nested: { [M]: [M] } },
    });
    if (!sent.ok) throw new Error('send failed');
    expect(
      (
        await request(nurse.socket, 'message:edit', {
          messageId: sent.data.message.id,
          content: `${M} edited`,
        })
      ).ok,
    ).toBe(true);
    expect(
      (
        await api('/api/v1/notifications', {
          organizationId: ORG,
          userIds: ['phi-nurse'],
          type: 'phi',
          title: `${M} t`,
          body: `${M} b`,
          data: { [M]: M },
        })
      ).status,
    ).toBe(202);
    const alert = { organizationId: ORG, title: `${M} t`, message: `${M} m` };
    expect(
      (await api('/api/v1/alerts/emergency', { ...alert, location: `${M} l` }, admin)).status,
    ).toBe(202);
    expect(
      (
        await api('/api/v1/alerts/medication-reminder', {
          ...alert,
          studentId: 's1',
          dueAt,
          userIds: ['phi-nurse'],
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await api('/api/v1/alerts/health', {
          ...alert,
          studentId: 's1',
          severity: 'critical',
          userIds: ['phi-nurse'],
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await api('/api/v1/channels/publish', {
          channel: `org:${ORG}`,
          event: 'e',
          data: { [M]: M },
        })
      ).status,
    ).toBe(202);
  });

  it('validation failures and control characters', async () => {
    const sends = [
      { content: `${M}\u0000` },
      { content: `${M}`.repeat(2000) },
      { content: M, metadata: { [`${M}\u0001`]: 1 } },
      { content: M, metadata: { k: M.repeat(200) } },
      { content: M, type: M },
    ];
    for (const extra of sends)
      expect(
        (
          await rawRequest(nurse.socket, 'message:send', {
            messageId: randomUUID(),
            conversationId,
            ...extra,
          })
        ).ok,
      ).toBe(false);
    // Without an ack: the failure goes out as an `error` event (the socket error path).
    nurse.socket.emit('message:send', {
      messageId: 'not-a-uuid',
      conversationId,
      content: `${M}\u0000`,
    });
    expect(
      (
        await rawRequest(nurse.socket, 'conversation:create', {
          participantIds: [M, 'x!'],
          title: `${M}\u0007`,
        })
      ).ok,
    ).toBe(false);
    expect((await rawRequest(nurse.socket, 'auth:refresh', { token: `${M}.x.y` })).ok).toBe(false);
    for (const body of [
      { organizationId: ORG, type: 'phi', title: `${M}\u0000`, body: M },
      { organizationId: ORG, type: M, title: M },
      { organizationId: ORG, type: 'phi', title: M, data: { [M]: 'x'.repeat(20000) } },
    ])
      expect((await api('/api/v1/notifications', body)).status).toBe(400);
    expect(
      (
        await api('/api/v1/alerts/emergency', {
          organizationId: ORG,
          title: M,
          message: `${M}\u001f`,
        })
      ).status,
    ).toBe(400);
    expect(
      (await api('/api/v1/channels/publish', { channel: M, event: 'e', data: M })).status,
    ).toBe(400);
    const bad = await http(sp.url, 'POST', '/api/v1/notifications', {
      token: service,
      rawBody: `{"title": "${M}", `,
    });
    expect(bad.status).toBe(400);
    // A bad token that carries the marker.
    expect(
      (await http(sp.url, 'POST', '/api/v1/notifications', { token: `${M}.e30.x`, body: {} }))
        .status,
    ).toBe(401);
  });

  it('database refusals and constraint conflicts', async () => {
    // A lone surrogate passes validation but jsonb refuses it: the database says no.
    const refused = await api('/api/v1/notifications', {
      organizationId: ORG,
      userIds: ['phi-nurse'],
      type: 'phi',
      title: `${M} t`,
      body: `${M} b`,
      data: { k: `${M}\ud800` },
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const alertRefused = await api('/api/v1/alerts/health', {
      organizationId: ORG,
      title: `${M}\ud800`,
      message: `${M} m`,
      studentId: 's1',
      severity: 'critical',
      userIds: ['phi-nurse'],
    });
    expect(alertRefused.status).toBeLessThan(500 + 4);
    const meta = await request(nurse.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId,
      content: `${M} c`,
      metadata: { k: `${M}\udc00` },
    });
    expect(meta.ok).toBe(false);
    // A messageId of another sender: a unique violation inside the batch, CONFLICT.
    const id = randomUUID();
    expect(
      (await request(nurse.socket, 'message:send', { messageId: id, conversationId, content: M }))
        .ok,
    ).toBe(true);
    const dup = await request(other.socket, 'message:send', {
      messageId: id,
      conversationId,
      content: `${M} dup`,
    });
    expect(dup.ok).toBe(false);
    // A conversationId of another creator: CONFLICT.
    const conflict = await request(other.socket, 'conversation:create', {
      conversationId,
      participantIds: ['phi-nurse'],
      title: `${M} steal`,
    });
    expect(conflict.ok).toBe(false);
  });

  it('a database connection killed mid-transaction', { timeout: 60_000 }, async () => {
    const lock = await lockTable(sp.databaseUrl, 'audit_log');
    const pending = api('/api/v1/alerts/emergency', {
      organizationId: ORG,
      title: `${M} killed`,
      message: `${M} killed`,
      location: `${M} killed`,
    });
    try {
      // The alert's own transaction (alert and recipients written, its audit row waiting), not
      // an audit batch of an earlier case that reached the lock first.
      await lock.killWaiter(25_000, true);
    } catch (e) {
      pending.catch(() => undefined); // the case failed already: no second, unhandled error
      throw e;
    } finally {
      await lock.release();
    }
    expect((await pending).status).toBe(503);
    expect(sp.proc.exitCode).toBeNull();
  });

  it('Redis down: sends, notifications, publishes and alerts still answer; nothing leaks', async () => {
    await redis.down();
    const sent = await request(nurse.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId,
      content: `${M} while redis is down`,
      metadata: { [M]: M },
    });
    expect(typeof sent.ok).toBe('boolean');
    await api('/api/v1/notifications', {
      organizationId: ORG,
      userIds: ['phi-nurse'],
      type: 'phi',
      title: `${M} t`,
      body: `${M} b`,
    });
    await api('/api/v1/channels/publish', { channel: `org:${ORG}`, event: 'e', data: M });
    await api('/api/v1/alerts/emergency', { organizationId: ORG, title: M, message: M });
    await request(nurse.socket, 'presence:update', { status: 'away' }).catch(() => undefined);
    await redis.up();
    await new Promise((r) => setTimeout(r, 1500));
    expect(sp.proc.exitCode).toBeNull();
  });

  it('zero log lines with the marker or a token', () => {
    const lines = sp.lines();
    expect(lines.length).toBeGreaterThan(50);
    // The run logged the failures it provoked (by class and SQLSTATE).
    expect(lines.some((l) => l.includes('"sqlState"'))).toBe(true);
    const leaks = lines.filter((l) => l.includes(M) || tokens.some((t) => l.includes(t)));
    expect(leaks).toEqual([]);
    const signatures = tokens.map((t) => t.split('.')[2]);
    expect(lines.filter((l) => signatures.some((s) => l.includes(s)))).toEqual([]);
  });
});
