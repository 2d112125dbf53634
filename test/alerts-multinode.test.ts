import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from './support/http.js';
import { connectReady } from './support/realtime.js';
import { startServer, type TestServer } from './support/server.js';
import { createTestDatabase, hasPostgres } from './support/services.js';
import { signToken } from './support/tokens.js';
import type { Alert } from '../src/protocol/models.js';

const INTERVAL = 300;

/**
 * Two nodes on one PostgreSQL (no adapter between them, so each node's emits reach only its own
 * sockets): one user connected to both. The re-sends are claimed in the database, so the user
 * gets one re-send per interval in total, not one per node.
 */
describe.skipIf(!hasPostgres())('alert re-delivery with two nodes on one PostgreSQL', () => {
  let a: TestServer;
  let b: TestServer;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('resend');
    drop = db.drop;
    const env = { ALERT_RESEND_INTERVAL_MS: String(INTERVAL) };
    a = await startServer({ databaseUrl: db.url, env });
    b = await startServer({ databaseUrl: db.url, env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  it('each recipient gets one re-send per interval, whichever node claims it', async () => {
    const user = { userId: 'm-user', organizationId: 'mA' };
    const onA = await connectReady(a.url, user, ['alert:emergency']);
    const onB = await connectReady(b.url, user, ['alert:emergency']);
    const times: number[] = [];
    // Re-sends may all be claimed by one node: wait on both sockets together.
    let sixResent: () => void = () => undefined;
    const six = new Promise<void>((resolve) => (sixResent = resolve));
    for (const c of [onA, onB])
      c.socket.on('alert:emergency', (p) => {
        if (p.redelivered && times.push(Date.now()) >= 6) sixResent();
      });
    try {
      const service = await signToken({ userId: 'm-svc', organizationId: 'mA', role: 'service' });
      const res = await http<{ alert: Alert }>(a.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: { organizationId: 'mA', title: 'Lockdown', message: 'Stay inside' },
      });
      expect(res.status).toBe(202);
      const total = () =>
        onA.recorder.of('alert:emergency').length + onB.recorder.of('alert:emergency').length;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        six,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out: ${times.length} re-sends`)),
            10_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      expect(total()).toBeGreaterThanOrEqual(7);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      // A duplicate claim by the second node would show up as a gap near 0.
      for (const gap of gaps) expect(gap).toBeGreaterThan(INTERVAL * 0.6);
      const st = await http<{ recipients: Record<string, number> }>(
        b.url,
        'GET',
        `/api/v1/alerts/${res.body.alert.id}`,
        { token: service },
      );
      expect(st.body.recipients).toEqual({ targeted: 1, delivered: 1, acknowledged: 0 });
    } finally {
      onA.socket.close();
      onB.socket.close();
    }
  });
});
