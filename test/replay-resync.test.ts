import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, connect, ok, settle, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import { connectReady } from './support/realtime.js';
import { useServer } from './support/server.js';
import { eventually } from './support/wait.js';
import { hasPostgres } from './support/services.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { signToken } from './support/tokens.js';

/**
 * §4 step 4 when the database fails at the moment a user connects: the replay cannot be read,
 * and before this the session silently missed what it was sent while offline (nothing told the
 * client). Once the database answers again, the session gets `conversation:sync-required` for
 * every conversation it is behind in and pages with `afterSeq`. The server reaches PostgreSQL
 * through a TCP proxy the test cuts (a real network failure: connections dropped, new ones
 * refused).
 */
describe.skipIf(!hasPostgres())('replay after a database failure at connect', () => {
  let proxy: TcpProxy;
  // The server reaches its database through the proxy, which closes after the server and before
  // the database is dropped.
  const srv = useServer(
    async ({ databaseUrl }) => {
      const url = new URL(databaseUrl!);
      proxy = await tcpProxy(Number(url.port || 5432));
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      return { databaseUrl: url.toString() };
    },
    { postgres: 'resync', afterClose: () => proxy?.close() },
  );
  const open: TestSocket[] = [];
  // Before the server closes: its sockets, and the database reachable again.
  afterAll(() => {
    closeAll(...open);
    proxy?.restore();
  });

  it(
    'gets conversation:sync-required for what it missed and its notification:sync once the database is back',
    { timeout: 60_000 },
    async () => {
      const org = `resync-${Date.now().toString(36)}`;
      // Alice's own connect steps are done (notification:sync came) before the cut: the replay
      // failure awaited below can only be Bob's.
      const alice = await connectReady(srv.url, {
        userId: 'alice',
        organizationId: org,
        role: 'nurse',
      });
      open.push(alice.socket);
      const { conversation } = await ok(alice.socket, 'conversation:create', {
        participantIds: ['bob'],
      });
      const sent: string[] = [];
      for (let i = 0; i < 3; i++)
        sent.push(
          (
            await ok(alice.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: conversation.id,
              content: `while bob is away ${i}`,
            })
          ).message.id,
        );

      const service = await signToken({ userId: 'svc', organizationId: org, role: 'service' });
      const notified = await http<{ ids: string[] }>(srv.url, 'POST', '/api/v1/notifications', {
        token: service,
        body: { organizationId: org, userIds: ['bob'], type: 'test', title: 'while away' },
      });
      expect(notified.status).toBe(202);

      proxy.cut();
      let bob: Awaited<ReturnType<typeof connect>>;
      try {
        bob = await connect(
          srv.url,
          await signToken({ userId: 'bob', organizationId: org, role: 'nurse' }),
          { record: ['message:new', 'conversation:sync-required', 'notification:sync'] },
        );
        open.push(bob.socket);
        // Wait until its replay has failed (the pool gives up on a connection after up to 5 s):
        // nothing arrives while the database is gone.
        await eventually(
          () =>
            ['message-replay', 'notification-sync'].every((hook) =>
              srv.logs.some((l) => l.includes(`hook connect:${hook} failed`)),
            ),
          (failed) => failed,
          15_000,
          'the replay and the notification sync to fail',
        );
        await settle(bob.socket);
        expect(bob.recorder.of('message:new')).toEqual([]);
        expect(bob.recorder.of('notification:sync')).toEqual([]);
      } finally {
        proxy.restore();
      }
      await bob.recorder.until(
        (r) => r.of('conversation:sync-required').length > 0,
        20_000,
        'conversation:sync-required after the database returned',
      );
      expect(bob.recorder.of('conversation:sync-required')).toEqual([
        { conversationId: conversation.id, deliveredSeq: 0, lastSeq: 3 },
      ]);
      const page = await ok(bob.socket, 'conversation:join', {
        conversationId: conversation.id,
        afterSeq: 0,
      });
      expect(page.messages.map((m) => m.id)).toEqual(sent);
      expect(bob.recorder.of('message:new')).toEqual([]);
      // The notification sync of §4 step 4 comes late the same way, with what was unread.
      await bob.recorder.until(
        (r) => r.of('notification:sync').length > 0,
        20_000,
        'notification:sync after the database returned',
      );
      const [sync] = bob.recorder.of('notification:sync');
      expect(sync.unreadCount).toBe(1);
      expect(sync.unread.map((n) => n.id)).toEqual(notified.body.ids);
    },
  );
});
