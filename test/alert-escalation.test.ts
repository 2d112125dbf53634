/**
 * Alert escalation (§12.7) on one node with the embedded database, against a real HTTP receiver
 * on 127.0.0.1: once after the deadline, signed, ids and counts only; prevented by an
 * acknowledgement; retried with the same delivery id and backoff after 500, timeout and a refused
 * connection; abandoned when the alert is resolved during retries; which alerts escalate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, ok, settle, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnServer } from './support/process.js';
import { auditText, connectReady } from './support/realtime.js';
import { useServer, type TestServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { stays } from './support/wait.js';
import { eventually, validSignature, WebhookReceiver } from './support/webhook-receiver.js';
import type { Alert } from '../src/protocol/models.js';

const MARKER = 'PHI-ESCALATION-7f3a91';
const SECRET = 'escalation-test-secret-0123456789abcdef';
const AFTER_MS = 500;
const ATTEMPT_TIMEOUT_MS = 1000;

interface Status {
  alert: Alert;
  recipients: { targeted: number; delivered: number; acknowledged: number };
  escalation: { status: string; attempts: number; deliveredAt: string | null };
}

const env = (url: string) => ({
  ALERT_ESCALATION_WEBHOOK_URL: url,
  ALERT_ESCALATION_SECRET: SECRET,
  ALERT_ESCALATION_AFTER_MS: String(AFTER_MS),
  ALERT_ESCALATION_ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT_MS),
});

async function escalationAudit(srv: TestServer, alertId: string) {
  const { sql } = await import('drizzle-orm');
  const res = (await srv.database.db.execute(
    sql`SELECT action, outcome, details FROM audit_log WHERE resource_id = ${alertId} AND action LIKE 'alert.escalation.%' ORDER BY id`,
  )) as { rows: Array<{ action: string; outcome: string; details: Record<string, unknown> }> };
  return res.rows;
}

async function metric(srv: TestServer, outcome: string): Promise<number> {
  const res = await fetch(`${srv.url}/metrics`);
  const text = await res.text();
  const m = new RegExp(
    `^realtime_alert_escalations_total\\{outcome="${outcome}"\\} (\\d+)`,
    'm',
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

describe('alert escalation (one node)', { timeout: 60_000 }, () => {
  // The receiver's hooks come before the server's: it starts first and closes after the server.
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(() => receiver.close());
  const srv = useServer(() => ({ env: env(receiver.url) }));
  let service: string;
  const open: TestSocket[] = [];
  beforeAll(async () => {
    service = await signToken({ userId: 'e-svc', organizationId: 'eA', role: 'service' });
  });
  afterAll(() => closeAll(...open));

  const status = async (id: string) => {
    const r = await http<Status>(srv.url, 'GET', `/api/v1/alerts/${id}`, { token: service });
    expect(r.status).toBe(200);
    return r.body;
  };
  const emergency = async (organizationId = 'eA', extra: Record<string, unknown> = {}) => {
    const res = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: service,
      body: {
        organizationId,
        title: `${MARKER} title`,
        message: `${MARKER} message`,
        location: `${MARKER} gym`,
        ...extra,
      },
    });
    expect(res.status).toBe(202);
    return res.body.alert;
  };

  it('escalates once after the deadline: signed body of ids and counts, alert:escalated to admins only', async () => {
    const admin = await connectReady(
      srv.url,
      { userId: 'e-admin', organizationId: 'eA', role: 'admin' },
      ['alert:escalated'],
    );
    const nurse = await connectReady(
      srv.url,
      { userId: 'e-nurse', organizationId: 'eA', role: 'nurse' },
      ['alert:escalated'],
    );
    const otherAdmin = await connectReady(
      srv.url,
      { userId: 'e-admin', organizationId: 'eB', role: 'admin' },
      ['alert:escalated'],
    );
    open.push(admin.socket, nurse.socket, otherAdmin.socket);
    const created = Date.now();
    const alert = await emergency();
    await receiver.until(() => receiver.for(alert.id).length === 1);
    const [req] = receiver.for(alert.id);
    expect(req.at - created).toBeGreaterThanOrEqual(AFTER_MS - 50);
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hooks/escalation?key=receiver-key');
    expect(req.headers['content-type']).toBe('application/json');
    expect(validSignature(SECRET, req.raw, req.headers['x-whitecross-signature'])).toBe(true);
    expect(validSignature('another-secret', req.raw, req.headers['x-whitecross-signature'])).toBe(
      false,
    );
    expect(req.deliveryId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(req.raw).not.toContain(MARKER);
    expect(JSON.stringify(req.headers)).not.toContain(MARKER);
    expect(Object.keys(req.body).sort()).toEqual(
      [
        'acknowledged',
        'alertId',
        'createdAt',
        'delivered',
        'escalatedAt',
        'kind',
        'organizationId',
        'severity',
        'targeted',
      ].sort(),
    );
    expect(req.body).toMatchObject({
      alertId: alert.id,
      organizationId: 'eA',
      kind: 'emergency',
      severity: 'critical',
      createdAt: alert.createdAt,
      targeted: 2,
      delivered: 2,
      acknowledged: 0,
    });

    await admin.recorder.until((r) => r.of('alert:escalated').length === 1);
    expect(admin.recorder.of('alert:escalated')).toEqual([
      { alertId: alert.id, escalatedAt: req.body.escalatedAt },
    ]);
    await eventually(async () => (await status(alert.id)).escalation.status === 'delivered');
    const st = await status(alert.id);
    expect(st.escalation.attempts).toBe(1);
    expect(new Date(st.escalation.deliveredAt!).getTime()).toBeGreaterThanOrEqual(
      new Date(String(req.body.escalatedAt)).getTime(),
    );

    // exactly once: several more polling passes send nothing more
    await stays(() => receiver.for(alert.id).length === 1, 4 * AFTER_MS, 'a single escalation');
    await settle(nurse.socket);
    await settle(otherAdmin.socket);
    expect(nurse.recorder.of('alert:escalated')).toEqual([]);
    expect(otherAdmin.recorder.of('alert:escalated')).toEqual([]);
    expect(await metric(srv, 'delivered')).toBeGreaterThanOrEqual(1);

    await eventually(async () => (await escalationAudit(srv, alert.id)).length === 1);
    const [attempt] = await escalationAudit(srv, alert.id);
    expect(attempt).toMatchObject({
      action: 'alert.escalation.attempt',
      outcome: 'success',
      details: { deliveryId: req.deliveryId, attempt: 1, statusCode: 200, errorClass: null },
    });
    expect(await auditText(srv.database.db as never)).not.toContain(MARKER);
    expect(srv.logs.join('\n')).not.toContain(MARKER);
    expect(srv.logs.join('\n')).not.toContain(SECRET);
    expect(srv.logs.join('\n')).not.toContain('receiver-key');
  });

  it('a critical health alert escalates; other severities and medication reminders do not', async () => {
    const post = async (path: string, body: Record<string, unknown>) => {
      const res = await http<{ alert: Alert }>(srv.url, 'POST', `/api/v1/alerts/${path}`, {
        token: service,
        body: { organizationId: 'eH', studentId: 'st-1', title: MARKER, message: MARKER, ...body },
      });
      expect(res.status).toBe(202);
      return res.body.alert;
    };
    const critical = await post('health', { severity: 'critical' });
    const warning = await post('health', { severity: 'warning' });
    const info = await post('health', { severity: 'info' });
    const reminder = await post('medication-reminder', {
      dueAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await receiver.until(() => receiver.for(critical.id).length === 1);
    expect(receiver.for(critical.id)[0].body).toMatchObject({
      kind: 'health',
      severity: 'critical',
      acknowledged: 0,
    });
    expect(receiver.for(critical.id)[0].raw).not.toContain(MARKER);
    await stays(
      () => [warning, info, reminder].every((a) => receiver.for(a.id).length === 0),
      2 * AFTER_MS,
      'no escalation of the others',
    );
    for (const a of [warning, info, reminder]) {
      expect(receiver.for(a.id)).toEqual([]);
      expect((await status(a.id)).escalation.status).toBe('none');
    }
  });

  it('500 and a timeout are retried with the same delivery id and body, backing off 1 s doubling', async () => {
    const alert = await emergency('eR');
    // 500, then no answer (the attempt times out), then 500, then 200
    receiver.answers.set(alert.id, ({ nth }) => (nth === 2 ? 'hang' : nth < 4 ? 500 : 200));
    await receiver.until(() => receiver.for(alert.id).length === 4, 30_000);
    const reqs = receiver.for(alert.id);
    expect(new Set(reqs.map((r) => r.deliveryId)).size).toBe(1);
    expect(new Set(reqs.map((r) => r.raw)).size).toBe(1);
    for (const r of reqs)
      expect(validSignature(SECRET, r.raw, r.headers['x-whitecross-signature'])).toBe(true);
    // Gaps between attempt starts: backoff 1 s, 2 s (+ the 1 s timeout), 4 s.
    const gaps = reqs.slice(1).map((r, i) => r.at - reqs[i].at);
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS + 1900);
    expect(gaps[2]).toBeGreaterThanOrEqual(3900);
    // loose upper bound: a loaded machine may delay a polling pass
    expect(gaps[2]).toBeLessThan(8000 + 4000);
    await eventually(async () => (await status(alert.id)).escalation.status === 'delivered');
    expect((await status(alert.id)).escalation.attempts).toBe(4);
    await eventually(async () => (await escalationAudit(srv, alert.id)).length === 4);
    const audit = await escalationAudit(srv, alert.id);
    expect(
      audit.map((a) => [a.outcome, a.details.attempt, a.details.statusCode, a.details.errorClass]),
    ).toEqual([
      ['failure', 1, 500, null],
      ['failure', 2, null, 'timeout'],
      ['failure', 3, 500, null],
      ['success', 4, 200, null],
    ]);
    expect(await metric(srv, 'failed')).toBeGreaterThanOrEqual(3);
    const warn = srv.logs.filter((l) => l.includes('alert escalation attempt failed'));
    expect(warn.length).toBeGreaterThanOrEqual(1);
    expect(warn.join('\n')).toContain(alert.id);
    expect(warn.join('\n')).not.toContain(MARKER);
  });

  it('resolving the alert during retries abandons the escalation', async () => {
    const alert = await emergency('eX');
    receiver.answers.set(alert.id, () => 500);
    await receiver.until(() => receiver.for(alert.id).length === 2, 20_000);
    const resolved = await http(srv.url, 'POST', `/api/v1/alerts/${alert.id}/resolve`, {
      token: service,
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await status(alert.id)).escalation.status === 'abandoned');
    const attempts = (await status(alert.id)).escalation;
    expect(attempts).toMatchObject({ status: 'abandoned', deliveredAt: null });
    expect(attempts.attempts).toBeGreaterThanOrEqual(2);
    // the next retry would have come 2 s after the second attempt: nothing more arrives
    const count = receiver.for(alert.id).length;
    await stays(() => receiver.for(alert.id).length === count, 3000, 'no attempt after abandoning');
    const audit = await escalationAudit(srv, alert.id);
    expect(audit.at(-1)).toMatchObject({
      action: 'alert.escalation.abandoned',
      details: { reason: 'resolved' },
    });
    expect(await metric(srv, 'abandoned')).toBeGreaterThanOrEqual(1);
  });
  it('an alert that expires during retries is abandoned (reason expired)', async () => {
    const alert = await emergency('eY', { expiresAt: new Date(Date.now() + 2500).toISOString() });
    receiver.answers.set(alert.id, () => 503);
    await receiver.until(() => receiver.for(alert.id).length >= 1, 20_000);
    await eventually(
      async () => (await status(alert.id)).escalation.status === 'abandoned',
      20_000,
      'abandoned after expiry',
    );
    const count = receiver.for(alert.id).length;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(3);
    await stays(() => receiver.for(alert.id).length === count, 2500, 'no attempt after expiry');
    await eventually(async () =>
      (await escalationAudit(srv, alert.id)).some((a) => a.action === 'alert.escalation.abandoned'),
    );
    expect((await escalationAudit(srv, alert.id)).at(-1)).toMatchObject({
      action: 'alert.escalation.abandoned',
      details: { reason: 'expired' },
    });
  });
});

describe('alert escalation: acknowledged in time', { timeout: 60_000 }, () => {
  // A deadline long enough that the acknowledgement lands before it even on a loaded machine.
  const DEADLINE_MS = 4000;
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(() => receiver.close());
  const srv = useServer(() => ({
    env: { ...env(receiver.url), ALERT_ESCALATION_AFTER_MS: String(DEADLINE_MS) },
  }));
  const open: TestSocket[] = [];
  afterAll(() => closeAll(...open));

  it('an acknowledgement before the deadline prevents it', async () => {
    const service = await signToken({ userId: 'k-svc', organizationId: 'eK', role: 'service' });
    const nurse = await connectReady(
      srv.url,
      { userId: 'k-nurse', organizationId: 'eK', role: 'nurse' },
      ['alert:emergency'],
    );
    const admin = await connectReady(
      srv.url,
      { userId: 'k-admin', organizationId: 'eK', role: 'admin' },
      ['alert:escalated'],
    );
    open.push(nurse.socket, admin.socket);
    const res = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: service,
      body: { organizationId: 'eK', title: MARKER, message: MARKER },
    });
    const alert = res.body.alert;
    const deadline = Date.parse(alert.createdAt) + DEADLINE_MS;
    const { acknowledgedAt } = await ok(nurse.socket, 'alert:acknowledge', { alertId: alert.id });
    expect(Date.parse(acknowledgedAt)).toBeLessThan(deadline);
    // Past the deadline, with several polling passes.
    await stays(
      () => receiver.for(alert.id).length === 0,
      Math.max(0, deadline - Date.now()) + 1500,
      'no escalation of the acknowledged alert',
    );
    const st = await http<Status>(srv.url, 'GET', `/api/v1/alerts/${alert.id}`, {
      token: service,
    });
    expect(st.body.escalation).toEqual({ status: 'none', attempts: 0, deliveredAt: null });
    await settle(admin.socket);
    expect(admin.recorder.of('alert:escalated')).toEqual([]);
    expect(await escalationAudit(srv, alert.id)).toMatchObject([
      { action: 'alert.escalation.cancelled', details: { reason: 'acknowledged', attempts: 0 } },
    ]);
  });
});

describe('alert escalation: connection refused', { timeout: 60_000 }, () => {
  // The receiver listens only once two attempts were refused, on the port the server was given.
  const receiver = new WebhookReceiver();
  afterAll(() => receiver.close());
  let port: number;
  const srv = useServer(async () => {
    port = await freePort();
    return { env: env(`http://127.0.0.1:${port}/hooks/escalation?key=receiver-key`) };
  });

  it('a refused connection is retried with the same delivery id until the receiver is up', async () => {
    const service = await signToken({ userId: 'c-svc', organizationId: 'eC', role: 'service' });
    const res = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: service,
      body: { organizationId: 'eC', title: MARKER, message: MARKER },
    });
    const alertId = res.body.alert.id;
    await eventually(
      async () => (await escalationAudit(srv, alertId)).length >= 2,
      20_000,
      'two refused attempts',
    );
    const refused = await escalationAudit(srv, alertId);
    expect(refused.slice(0, 2).map((a) => [a.outcome, a.details.errorClass])).toEqual([
      ['failure', 'ECONNREFUSED'],
      ['failure', 'ECONNREFUSED'],
    ]);
    await receiver.start(port);
    await receiver.until(() => receiver.for(alertId).length === 1, 20_000);
    expect(receiver.for(alertId)[0].deliveryId).toBe(refused[0].details.deliveryId);
    await eventually(async () => {
      const st = await http<Status>(srv.url, 'GET', `/api/v1/alerts/${alertId}`, {
        token: service,
      });
      return st.body.escalation.status === 'delivered';
    });
  });
});

describe('alert escalation: start-up refusals (real process, exit 1, one line naming the variable)', () => {
  const prod = {
    NODE_ENV: 'production',
    JWT_SECRET: 'x'.repeat(40),
    CORS_ORIGIN: 'https://nurse.example.org',
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    REDIS_URL: 'redis://127.0.0.1:6379',
  };
  const shortSecret = 'short-escalation-secret';
  async function refuses(env: Record<string, string>, variable: string): Promise<void> {
    const sp = spawnServer({
      DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-esc-cfg-')),
      PORT: String(await freePort()),
      ...env,
    });
    const timer = setTimeout(() => sp.proc.kill('SIGKILL'), 20_000);
    const code = await sp.exited;
    clearTimeout(timer);
    expect(code).toBe(1);
    const lines = sp.stderr.filter((l) => l.trim().length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    expect(lines[0]).not.toContain(shortSecret);
    expect(lines[0]).not.toContain('receiver-key');
  }
  it('a URL without a secret', () =>
    refuses({ ALERT_ESCALATION_WEBHOOK_URL: 'http://127.0.0.1:9/h' }, 'ALERT_ESCALATION_SECRET'));
  it('an unparseable deadline', () =>
    refuses({ ALERT_ESCALATION_AFTER_MS: '2min' }, 'ALERT_ESCALATION_AFTER_MS'));
  it('production: an http: URL', () =>
    refuses(
      {
        ...prod,
        ALERT_ESCALATION_WEBHOOK_URL: 'http://pager.example/h?key=receiver-key',
        ALERT_ESCALATION_SECRET: 'k'.repeat(40),
      },
      'ALERT_ESCALATION_WEBHOOK_URL',
    ));
  it('production: a secret under 32 bytes', () =>
    refuses(
      {
        ...prod,
        ALERT_ESCALATION_WEBHOOK_URL: 'https://pager.example/h?key=receiver-key',
        ALERT_ESCALATION_SECRET: shortSecret,
      },
      'ALERT_ESCALATION_SECRET',
    ));
});
