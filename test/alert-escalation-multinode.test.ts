/**
 * Alert escalation (§12.7) across nodes on one PostgreSQL: two nodes polling the same outbox
 * never both send an escalation, and a node killed with -9 while it holds one (mid-attempt, or
 * before the deadline) does not lose it: another node, or the restarted one, sends it once, with
 * the same delivery id and body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, settle } from './support/client.js';
import { http } from './support/http.js';
import { startServerProcess, type ServerProcess } from './support/process.js';
import { connectReady } from './support/realtime.js';
import { startServer, type TestServer } from './support/server.js';
import {
  createTestDatabase,
  hasPostgres,
  hasRedis,
  redisPrefix,
  REDIS_TEST_URL,
} from './support/services.js';
import { signToken, TEST_JWT_SECRET } from './support/tokens.js';
import { eventually, validSignature, WebhookReceiver } from './support/webhook-receiver.js';
import type { Alert } from '../src/protocol/models.js';

const MARKER = 'PHI-ESCALATION-MULTI-41d0';
const SECRET = 'escalation-multinode-secret-0123456789';

interface Status {
  escalation: { status: string; attempts: number; deliveredAt: string | null };
}

async function createEmergency(url: string, organizationId: string): Promise<Alert> {
  const service = await signToken({ userId: 'm-svc', organizationId, role: 'service' });
  const res = await http<{ alert: Alert }>(url, 'POST', '/api/v1/alerts/emergency', {
    token: service,
    body: { organizationId, title: MARKER, message: MARKER, location: MARKER },
  });
  expect(res.status).toBe(202);
  return res.body.alert;
}

async function escalationOf(url: string, alert: Alert): Promise<Status['escalation']> {
  const service = await signToken({
    userId: 'm-svc',
    organizationId: alert.organizationId,
    role: 'service',
  });
  const res = await http<Status>(url, 'GET', `/api/v1/alerts/${alert.id}`, { token: service });
  expect(res.status).toBe(200);
  return res.body.escalation;
}

describe.skipIf(!hasPostgres() || !hasRedis())(
  'alert escalation with two nodes',
  { timeout: 60_000 },
  () => {
    const receiver = new WebhookReceiver();
    const nodes: TestServer[] = [];
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      await receiver.start();
      const db = await createTestDatabase('escalate');
      drop = db.drop;
      const env = {
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: redisPrefix('escalate'),
        ALERT_ESCALATION_WEBHOOK_URL: receiver.url,
        ALERT_ESCALATION_SECRET: SECRET,
        ALERT_ESCALATION_AFTER_MS: '400',
      };
      nodes.push(await startServer({ env, databaseUrl: db.url }));
      nodes.push(await startServer({ env, databaseUrl: db.url }));
    });
    afterAll(async () => {
      for (const n of nodes) await n.close();
      await receiver.close();
      await drop?.();
    });

    it('never both send: one 2xx per alert, retries not doubled, alert:escalated once per admin', async () => {
      const [a, b] = nodes;
      const admin = await connectReady(
        b.url,
        { userId: 'm-admin', organizationId: 'mE', role: 'admin' },
        ['alert:escalated'],
      );
      try {
        const alerts: Alert[] = [];
        for (let i = 0; i < 8; i++) {
          const al = await createEmergency(i % 2 ? b.url : a.url, 'mE');
          // Half of them fail once (500) so the retries race between the nodes too.
          if (i % 2 === 0) receiver.answers.set(al.id, ({ nth }) => (nth === 1 ? 500 : 200));
          alerts.push(al);
        }
        await receiver.until(
          () => alerts.every((al) => receiver.for(al.id).some((r) => r.answer === 200)),
          30_000,
          'every alert delivered',
        );
        await admin.recorder.until((r) => r.of('alert:escalated').length === alerts.length, 10_000);
        // Several more polling passes of both nodes: nothing more is sent.
        await new Promise((r) => setTimeout(r, 2500));
        alerts.forEach((al, i) => {
          const reqs = receiver.for(al.id);
          expect(reqs.map((r) => r.answer)).toEqual(i % 2 === 0 ? [500, 200] : [200]);
          expect(new Set(reqs.map((r) => r.deliveryId)).size).toBe(1);
          expect(reqs.every((r) => !r.raw.includes(MARKER))).toBe(true);
        });
        await settle(admin.socket);
        expect(
          admin.recorder
            .of('alert:escalated')
            .map((e) => e.alertId)
            .sort(),
        ).toEqual(alerts.map((al) => al.id).sort());
        for (const al of alerts) {
          const e = await escalationOf(a.url, al);
          expect(e.status).toBe('delivered');
        }
      } finally {
        closeAll(admin.socket);
      }
    });
  },
);

describe.skipIf(!hasPostgres())('alert escalation survives kill -9', { timeout: 90_000 }, () => {
  const receiver = new WebhookReceiver();
  const procs: ServerProcess[] = [];
  const dirs: string[] = [];
  let dbUrl = '';
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    await receiver.start();
    const db = await createTestDatabase('escalkill');
    dbUrl = db.url;
    drop = db.drop;
  });
  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await receiver.close();
    await drop?.();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const spawnNode = async (nodeId: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wcr-escal-'));
    dirs.push(dataDir);
    const p = await startServerProcess({
      NODE_ENV: 'test',
      NODE_ID: nodeId,
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: dbUrl,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ALERT_ESCALATION_WEBHOOK_URL: receiver.url,
      ALERT_ESCALATION_SECRET: SECRET,
      ALERT_ESCALATION_AFTER_MS: '500',
      // The default 5 s attempt timeout: a claim lasts 2 × 5 s + 2 s = 12 s.
    });
    procs.push(p);
    return p;
  };

  it('a node killed mid-attempt: another node sends it after the claim runs out, once, same delivery', async () => {
    const a = await spawnNode('node-a');
    const alert = await createEmergency(a.url, 'mK');
    // The first request is never answered: node A holds the claim, waiting.
    receiver.answers.set(alert.id, ({ nth }) => (nth === 1 ? 'hang' : 200));
    await receiver.until(() => receiver.for(alert.id).length === 1, 20_000);
    await a.stop('SIGKILL');
    const b = await spawnNode('node-b');
    await receiver.until(() => receiver.for(alert.id).length === 2, 30_000);
    const [first, second] = receiver.for(alert.id);
    expect(second.deliveryId).toBe(first.deliveryId);
    expect(second.raw).toBe(first.raw);
    expect(validSignature(SECRET, second.raw, second.headers['x-whitecross-signature'])).toBe(true);
    // The claim (12 s) had to run out before node B could take it over.
    expect(second.at - first.at).toBeGreaterThanOrEqual(11_000);
    await eventually(async () => (await escalationOf(b.url, alert)).status === 'delivered');
    // Node A's attempt was never recorded (it died waiting); node B's is the one counted.
    expect((await escalationOf(b.url, alert)).attempts).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.for(alert.id).filter((r) => r.answer === 200)).toHaveLength(1);
    expect(receiver.for(alert.id)).toHaveLength(2);
    expect([...a.stdout, ...a.stderr, ...b.stdout, ...b.stderr].join('\n')).not.toContain(MARKER);
  });

  it('a node killed before the deadline: the restarted node sends it, once', async () => {
    const c = await spawnNode('node-c');
    const alert = await createEmergency(c.url, 'mR');
    await c.stop('SIGKILL');
    for (const p of procs) if (p !== c) await p.stop('SIGKILL');
    const restarted = await spawnNode('node-c');
    await receiver.until(() => receiver.for(alert.id).length >= 1, 20_000);
    await eventually(async () => (await escalationOf(restarted.url, alert)).status === 'delivered');
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.for(alert.id)).toHaveLength(1);
    expect(receiver.for(alert.id)[0].body).toMatchObject({ alertId: alert.id, kind: 'emergency' });
  });
});
