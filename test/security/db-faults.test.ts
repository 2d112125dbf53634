/**
 * Finding 7 (high): a PostgreSQL connection killed mid-transaction crashed the process
 * ("Unhandled 'error' event … Connection terminated unexpectedly"). §12.3: the request fails with
 * SERVICE_UNAVAILABLE, nothing is half-written, and the process keeps serving.
 *
 * Each case holds the server's transaction at a lock taken by the test's own connection, after
 * the transaction wrote its first rows, then terminates the waiting backend of the test's OWN
 * database (pg_terminate_backend, never another database's) and checks the answer, the rows and
 * that the same process still serves. The server is a spawned `node dist/src/main.js`, so a crash
 * is seen as an exit, not as a broken test runner.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, request, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { GENEROUS_LIMITS, user, type Client } from '../support/messaging.js';
import { hasPostgres } from '../support/services.js';
import { signToken } from '../support/tokens.js';
import { lockTable, spawnOnPostgres, type SpawnedServer } from './support.js';

export const MARKER = 'PHI-MARKER-db-faults-93c1';

// No retry: killWaiter waits up to 25 s for the server's statement to reach the lock (a loaded
// machine is slow, not flaky), and it sees backends that connect while it polls.
describe.skipIf(!hasPostgres())(
  'database connection killed mid-transaction (§12.3)',
  { timeout: 60_000 },
  () => {
    let sp: SpawnedServer;
    let db: pg.Client;
    let service: string;
    let nurse: Client;
    const open: TestSocket[] = [];
    const ORG = 'dbf-org';

    beforeAll(async () => {
      sp = await spawnOnPostgres({ RATE_LIMITS: GENEROUS_LIMITS, LOG_LEVEL: 'trace' });
      db = new pg.Client({ connectionString: sp.databaseUrl });
      await db.connect();
      service = await signToken({ userId: 'dbf-svc', organizationId: ORG, role: 'service' });
      nurse = await user(sp.url, 'dbf-nurse', ORG, { role: 'nurse' });
      open.push(nurse.socket);
    });
    afterAll(async () => {
      closeAll(...open);
      await db?.end();
      expect(sp.lines().join('\n')).not.toContain(MARKER);
      await sp?.close();
    });

    async function stillServing(): Promise<void> {
      expect(sp.proc.exitCode).toBeNull();
      expect(sp.proc.signalCode).toBeNull();
      expect((await fetch(`${sp.url}/health`)).status).toBe(200);
      const pong = await request(nurse.socket, 'ping');
      expect(pong.ok).toBe(true);
    }

    const count = async (q: string, params: unknown[]) =>
      Number((await db.query<{ n: string }>(q, params)).rows[0].n);

    it('the lock helper sees a backend that connects and reaches the lock after polling began', async () => {
      // Regression: pg_stat_activity was read inside the lock's transaction, a snapshot taken at
      // the first poll, so a server connection opened later (the pool emptied by earlier kills)
      // was never seen and the case hung until the server's statement was let through.
      const lock = await lockTable(sp.databaseUrl, 'audit_log');
      const late = new pg.Client({ connectionString: sp.databaseUrl });
      late.on('error', () => undefined);
      const killing = lock.killWaiter(10_000);
      try {
        await new Promise((r) => setTimeout(r, 300)); // the helper has polled by now
        await late.connect();
        // Settled at once: the kill rejects it before `killing` is awaited.
        const waiting = late.query('SELECT count(*) FROM audit_log').then(
          () => undefined,
          (e: unknown) => e as { code?: string },
        );
        await expect(killing).resolves.toBe(1);
        expect((await waiting)?.code).toBe('57P01'); // admin_shutdown: terminated by the helper
      } finally {
        killing.catch(() => undefined);
        await lock.release();
        await late.end().catch(() => undefined);
      }
    });

    it('notification: killed at the audit insert after the notification rows → 503, no rows, still serving', async () => {
      const lock = await lockTable(sp.databaseUrl, 'audit_log');
      const pending = http(sp.url, 'POST', '/api/v1/notifications', {
        token: service,
        body: {
          organizationId: ORG,
          userIds: ['dbf-nurse', 'dbf-other'],
          type: 'dbf',
          title: `${MARKER} title`,
          body: `${MARKER} body`,
          data: { [MARKER]: MARKER },
        },
      });
      try {
        expect(await lock.killWaiter()).toBeGreaterThan(0);
      } catch (e) {
        pending.catch(() => undefined); // the case failed already: no second, unhandled error
        throw e;
      } finally {
        await lock.release();
      }
      const res = await pending;
      expect(res.status).toBe(503);
      expect((res.body as { type: string }).type).toBe('SERVICE_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toContain(MARKER);
      expect(await count(`SELECT count(*) AS n FROM notifications WHERE type = 'dbf'`, [])).toBe(0);
      await stillServing();
      const again = await http(sp.url, 'POST', '/api/v1/notifications', {
        token: service,
        body: { organizationId: ORG, userIds: ['dbf-nurse'], type: 'dbf', title: 'ok' },
      });
      expect(again.status).toBe(202);
    });

    it('emergency alert: killed mid-transaction → 503, no alert row, still serving', async () => {
      const lock = await lockTable(sp.databaseUrl, 'audit_log');
      const pending = http(sp.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: {
          organizationId: ORG,
          title: `${MARKER} fire`,
          message: `${MARKER} msg`,
          location: `${MARKER} gym`,
        },
      });
      try {
        await lock.killWaiter();
      } catch (e) {
        pending.catch(() => undefined); // the case failed already: no second, unhandled error
        throw e;
      } finally {
        await lock.release();
      }
      const res = await pending;
      expect(res.status).toBe(503);
      expect((res.body as { type: string }).type).toBe('SERVICE_UNAVAILABLE');
      expect(
        await count(`SELECT count(*) AS n FROM alerts WHERE organization_id = $1`, [ORG]),
      ).toBe(0);
      await stillServing();
    });

    it('conversation:create: killed after the conversation row, before the participants → SERVICE_UNAVAILABLE, no row', async () => {
      const id = randomUUID();
      const lock = await lockTable(sp.databaseUrl, 'conversation_participants');
      const pending = request(nurse.socket, 'conversation:create', {
        conversationId: id,
        participantIds: ['dbf-a', 'dbf-b'],
        title: `${MARKER} ward`,
      });
      try {
        await lock.killWaiter();
      } catch (e) {
        pending.catch(() => undefined); // the case failed already: no second, unhandled error
        throw e;
      } finally {
        await lock.release();
      }
      const res = await pending;
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.type).toBe('SERVICE_UNAVAILABLE');
      expect(await count(`SELECT count(*) AS n FROM conversations WHERE id = $1`, [id])).toBe(0);
      await stillServing();
      const again = await request(nurse.socket, 'conversation:create', {
        conversationId: id,
        participantIds: ['dbf-a', 'dbf-b'],
      });
      expect(again.ok).toBe(true);
    });

    it('message:send and message:edit: killed mid-statement / mid-transaction → SERVICE_UNAVAILABLE, content unchanged', async () => {
      const created = await request(nurse.socket, 'conversation:create', {
        participantIds: ['dbf-a'],
      });
      if (!created.ok) throw new Error('create failed');
      const conversationId = created.data.conversation.id;

      // send: the batch statement waits on the messages table.
      let lock = await lockTable(sp.databaseUrl, 'messages');
      const sending = request(nurse.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId,
        content: `${MARKER} lost`,
      });
      try {
        await lock.killWaiter();
      } catch (e) {
        sending.catch(() => undefined); // the case failed already: no second, unhandled error
        throw e;
      } finally {
        await lock.release();
      }
      const sent = await sending;
      expect(sent.ok).toBe(false);
      if (!sent.ok) expect(sent.error.type).toBe('SERVICE_UNAVAILABLE');
      await stillServing();

      const original = await request(nurse.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId,
        content: 'original',
      });
      if (!original.ok) throw new Error('send failed');
      expect(original.data.message.seq).toBe(1);

      // edit: the UPDATE runs, then the audit insert waits; the kill must roll the UPDATE back.
      lock = await lockTable(sp.databaseUrl, 'audit_log');
      const editing = request(nurse.socket, 'message:edit', {
        messageId: original.data.message.id,
        content: `${MARKER} edited`,
      });
      try {
        await lock.killWaiter();
      } catch (e) {
        editing.catch(() => undefined); // the case failed already: no second, unhandled error
        throw e;
      } finally {
        await lock.release();
      }
      const edited = await editing;
      expect(edited.ok).toBe(false);
      if (!edited.ok) expect(edited.error.type).toBe('SERVICE_UNAVAILABLE');
      const { rows } = await db.query<{ content: string; edited_at: Date | null }>(
        'SELECT content, edited_at FROM messages WHERE id = $1',
        [original.data.message.id],
      );
      expect(rows[0]).toEqual({ content: 'original', edited_at: null });
      await stillServing();
    });

    it('no log line of the run carries the marker, and none says the process crashed', () => {
      const all = sp.lines().join('\n');
      expect(all).not.toContain(MARKER);
      expect(all).not.toMatch(/Unhandled 'error' event/);
      expect(sp.proc.exitCode).toBeNull();
    });
  },
);
