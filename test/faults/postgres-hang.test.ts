import { describe, expect, it } from 'vitest';
import { ok } from '../support/client.js';
import {
  checkLedger,
  expectRunningWithoutCrash,
  eventually,
  Ledger,
  member,
  Sender,
  useCluster,
} from '../support/cluster.js';
import { http } from '../support/http.js';
import { hasRedis } from '../support/services.js';

const QUERY_TIMEOUT_MS = 2000;
const FREEZE_MS = 12_000;

/**
 * A hung PostgreSQL (every server process SIGSTOPped: connections open, nothing answers — a
 * frozen host or a network black hole) must not leave sends unanswered. Every statement fails
 * after DATABASE_QUERY_TIMEOUT_MS (2 s here), so a send inside a transaction is answered
 * SERVICE_UNAVAILABLE within about two of them (the statement, then the rollback), and a new
 * connection gives up after the pool's 5 s. Without the timeout each send hung for the whole
 * freeze (12 s here; 15 minutes of TCP retransmission behind a real black hole).
 */
describe.skipIf(!hasRedis())('PostgreSQL hangs (SIGSTOP) under load', () => {
  const cluster = useCluster({ env: { DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) } });

  it('every send is answered within a few query timeouts, /ready says the database is down, sends resume after', async () => {
    const org = `pghang-${Date.now().toString(36)}`;
    const users = cluster.nodes.map((_, i) => `sender${i + 1}`);
    const senders = await Promise.all(cluster.nodes.map((n, i) => member(n.url, users[i], org)));
    cluster.open.push(...senders.map((s) => s.socket));
    const { conversation } = await ok(senders[0].socket, 'conversation:create', {
      participantIds: users.slice(1),
    });
    const ledger = new Ledger();
    const loops = senders.map(
      (s) =>
        new Sender(s.socket, conversation.id, ledger, {
          concurrency: 2,
          pauseMs: 20,
          // Longer than the freeze: an unanswered send shows as a long wait, not a local timeout.
          ackTimeoutMs: FREEZE_MS + 10_000,
        }),
    );
    loops.forEach((l) => l.start());
    await eventually(
      () => ledger.acked.length,
      (n) => n >= 30,
      20_000,
      'acks before the freeze',
    );

    const frozenAt = Date.now();
    cluster.postgres.pause();
    let readyDuring: { status: number; body: { checks: { database: string } } } | undefined;
    try {
      await new Promise((r) => setTimeout(r, 2 * QUERY_TIMEOUT_MS));
      readyDuring = await http<{ checks: { database: string } }>(
        cluster.nodes[1].url,
        'GET',
        '/ready',
      );
      while (Date.now() - frozenAt < FREEZE_MS) await new Promise((r) => setTimeout(r, 50));
    } finally {
      cluster.postgres.resume();
    }
    const resumedAt = Date.now();
    await eventually(
      () => ledger.acked.filter((s) => s.sentAt > resumedAt).length,
      (n) => n >= 10,
      20_000,
      'acks after the freeze',
    );
    await Promise.all(loops.map((l) => l.stop()));

    const during = ledger.sends.filter((s) => s.sentAt >= frozenAt && s.sentAt < resumedAt);
    const longestWait = Math.max(
      ...ledger.sends
        .filter((s) => s.sentAt < resumedAt && (s.answeredAt ?? Infinity) > frozenAt)
        .map((s) => (s.answeredAt ?? Date.now()) - Math.max(s.sentAt, frozenAt)),
    );
    const unavailable = during.filter(
      (s) => s.result.kind === 'error' && s.result.type === 'SERVICE_UNAVAILABLE',
    ).length;
    const firstAckAfter = Math.min(
      ...ledger.acked.filter((s) => s.answeredAt! >= resumedAt).map((s) => s.answeredAt!),
    );
    process.stdout.write(
      `PostgreSQL frozen ${FREEZE_MS} ms: ${during.length} sends during it, ${unavailable} answered SERVICE_UNAVAILABLE, longest wait for an answer ${longestWait} ms, /ready ${readyDuring?.status} database ${readyDuring?.body.checks.database}; first ack ${firstAckAfter - resumedAt} ms after it resumed\n`,
    );
    expect(ledger.unanswered).toEqual([]);
    // The statement's timeout, the rollback's, and scheduling slack on a loaded machine.
    expect(longestWait).toBeLessThan(3 * QUERY_TIMEOUT_MS + 1500);
    expect(unavailable).toBeGreaterThan(0);
    expect(readyDuring?.status).toBe(503);
    expect(readyDuring?.body.checks.database).toBe('down');
    // Nothing acknowledged is lost; a send answered SERVICE_UNAVAILABLE may still have been
    // stored (its commit came back late): the SDK retries it with the same messageId.
    const { acked, stored } = await checkLedger(
      cluster,
      senders[0].socket,
      conversation.id,
      ledger,
    );
    expect(acked).toBeGreaterThan(40);
    expect(stored).toBeGreaterThanOrEqual(acked);
    expectRunningWithoutCrash(cluster.nodes);
  }, 120_000);
});
