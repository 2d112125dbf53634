import { describe, expect, it } from 'vitest';
import { connect, ok } from '../support/client.js';
import { checkLedger, crashLines, Ledger, member, Sender, useCluster } from '../support/cluster.js';
import { hasPostgres, hasRedis } from '../support/services.js';
import { signToken } from '../support/tokens.js';

/**
 * §12.8 / issue 12 point 8: SIGTERM to a node with many sends in flight. The node answers 503
 * `draining` on /ready and refuses new handshakes, answers every event it received (ack or error
 * object — none left unanswered, where 9 were before), then disconnects its sockets with a server
 * disconnect (`io server disconnect`: the client reconnects elsewhere) and exits 0. Every
 * acknowledged message is in the database and in history exactly once.
 */
describe.skipIf(!(hasRedis() && hasPostgres()))('SIGTERM drains a node under load', () => {
  const cluster = useCluster();
  const open = cluster.open;

  it('every in-flight send is answered, then io server disconnect; /ready 503 draining meanwhile; acked ones are stored', async () => {
    const [A, B] = cluster.nodes;
    const org = `drain-${Date.now().toString(36)}`;
    const reader = await member(A.url, 'reader', org);
    open.push(reader.socket);
    const users = ['s1', 's2', 's3', 's4'];
    const senders = await Promise.all(
      users.map((u, i) => member(B.url, u, org, [], i % 2 ? '/communication' : '/')),
    );
    open.push(...senders.map((s) => s.socket));
    const { conversation } = await ok(reader.socket, 'conversation:create', {
      participantIds: users,
    });
    const ledger = new Ledger();
    // 4 sockets × 15 sends in flight each, all on node B.
    const loops = senders.map(
      (s) =>
        new Sender(s.socket, conversation.id, ledger, { concurrency: 15, ackTimeoutMs: 15_000 }),
    );
    const disconnectedAt: number[] = [];
    const reasons = senders.map(
      (s, i) =>
        new Promise<string>((r) =>
          s.socket.once('disconnect', (reason) => {
            disconnectedAt[i] = Date.now();
            r(reason);
          }),
        ),
    );
    loops.forEach((l) => l.start());
    while (ledger.acked.length < 100) await new Promise((r) => setTimeout(r, 20));

    // /ready of B polled throughout the drain.
    const readiness: Array<{ status: number; body: string }> = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const res = await fetch(`${B.url}/ready`);
          readiness.push({ status: res.status, body: await res.text() });
        } catch {
          // the listener is closed at the end
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const termAt = Date.now();
    const exit = B.stop('SIGTERM');
    expect(await Promise.all(reasons)).toEqual(users.map(() => 'io server disconnect'));
    const drainMs = Date.now() - termAt;
    // The clients (reconnection off here) stop sending; every send already has its answer.
    await Promise.all(loops.map((l) => l.stop()));
    expect(await exit).toBe(0);
    polling = false;
    await poll;

    // A send still on the wire when the node disconnected was never received (Socket.IO drops
    // packets for a socket it disconnected): it has no answer, is not stored, and the client
    // resends it after reconnecting (same messageId). Anything the node received was answered:
    // nothing unanswered is stored, and the unanswered ones were all emitted in the last moment.
    const lastDisconnect = Math.max(...disconnectedAt);
    const stored = new Set(
      (
        await cluster.query<{ id: string }>('SELECT id FROM messages WHERE conversation_id = $1', [
          conversation.id,
        ])
      ).map((r) => r.id),
    );
    const unanswered = ledger.unanswered;
    expect(unanswered.filter((s) => stored.has(s.messageId))).toEqual([]);
    expect(unanswered.filter((s) => s.sentAt < lastDisconnect - 250)).toEqual([]);
    const errors = ledger.errors();
    expect(
      errors.every((s) => s.result.kind === 'error' && s.result.type === 'SERVICE_UNAVAILABLE'),
    ).toBe(true);
    const { acked } = await checkLedger(cluster, reader.socket, conversation.id, ledger);
    // /ready turned 503 `draining` (never back to 200) before the node went away.
    const firstDown = readiness.findIndex((r) => r.status !== 200);
    expect(firstDown).toBeGreaterThanOrEqual(0);
    for (const r of readiness.slice(firstDown)) {
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'draining' });
    }
    process.stdout.write(
      `SIGTERM with ~60 sends in flight: drained in ${drainMs} ms; ${acked} acked (all stored), ${errors.length} answered SERVICE_UNAVAILABLE, ${unanswered.length} still on the wire at the disconnect (not received, not stored); /ready draining seen ${readiness.length - firstDown} times\n`,
    );
    for (const n of cluster.nodes) expect(crashLines(n)).toEqual([]);
  }, 90_000);

  // A polling client picks up the disconnect packet with its next GET. Under load its GETs come
  // back one after another, so at the moment of the disconnect there is often no GET waiting:
  // closing the server then would discard the packet and the client would see `transport close`
  // (found through HAProxy in CI). The drain waits, bounded, for every connection to close.
  it('polling-only clients under load get io server disconnect too', async () => {
    const C = cluster.nodes[2];
    const org = `drain-poll-${Date.now().toString(36)}`;
    const users = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const token = (u: string) => signToken({ userId: u, organizationId: org, role: 'staff' });
    const socks = await Promise.all(
      users.map(
        async (u) => (await connect(C.url, await token(u), { transports: ['polling'] })).socket,
      ),
    );
    open.push(...socks);
    const { conversation } = await ok(socks[0], 'conversation:create', { participantIds: users });
    const ledger = new Ledger();
    const loops = socks.map(
      (s) => new Sender(s, conversation.id, ledger, { concurrency: 4, ackTimeoutMs: 15_000 }),
    );
    const reasons = socks.map(
      (s) => new Promise<string>((r) => s.once('disconnect', (reason) => r(reason))),
    );
    loops.forEach((l) => l.start());
    while (ledger.acked.length < 100) await new Promise((r) => setTimeout(r, 20));
    const exit = C.stop('SIGTERM');
    expect(await Promise.all(reasons)).toEqual(users.map(() => 'io server disconnect'));
    await Promise.all(loops.map((l) => l.stop()));
    expect(await exit).toBe(0);
    expect(crashLines(C)).toEqual([]);
  }, 60_000);
});
