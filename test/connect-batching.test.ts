import { describe, expect, it } from 'vitest';
import type { Alert } from '../src/protocol/models.js';
import { connect, ok, closeAll } from './support/client.js';
import { http } from './support/http.js';
import { chatSuite, conversation, send, uid } from './support/messaging.js';
import { connectReady } from './support/realtime.js';
import { signToken } from './support/tokens.js';

/**
 * The connect-time statements of many sockets at once are grouped (member upserts, the alert
 * replay lookup and its delivery records, the lagging-conversation lookup: MicroBatcher). Each
 * socket must still get exactly its own answer: its own missed messages, the alert unless its
 * user acknowledged it, and two sockets of one user in one batch both served.
 */
describe('connect-time work of many sockets at once is grouped, each gets its own answer', () => {
  const suite = chatSuite();

  it('40 sockets connecting together: own replays, own acknowledgements, members recorded', async () => {
    const org = uid('org');
    const other = uid('org');
    const sender = await suite.connectUser(uid('sender'), org);
    const users = Array.from({ length: 36 }, (_, i) => `${org}-u${i}`);
    // Two conversations with different members and different numbers of missed messages.
    const a = await conversation(sender, users.slice(0, 18));
    const b = await conversation(sender, users.slice(18));
    const missedA = [await send(sender, a.id), await send(sender, a.id)];
    const missedB = [await send(sender, b.id)];
    const service = await signToken({ userId: 'svc', organizationId: org, role: 'service' });
    const raised = await http<{ alert: Alert }>(suite.srv.url, 'POST', '/api/v1/alerts/emergency', {
      token: service,
      body: { organizationId: org, title: 'Drill', message: 'Stay inside' },
    });
    expect(raised.status).toBe(202);
    const alertId = raised.body.alert.id;
    // u0 and u1 acknowledge it before the storm.
    for (const userId of users.slice(0, 2)) {
      const c = await connectReady(suite.srv.url, { userId, organizationId: org });
      await ok(c.socket, 'alert:acknowledge', { alertId });
      c.socket.close();
    }
    // The storm: 36 users, u2 twice, and 3 users of another organization (same user ids).
    const specs = [
      ...users.map((userId) => ({ userId, organizationId: org })),
      { userId: users[2], organizationId: org },
      ...users.slice(0, 3).map((userId) => ({ userId, organizationId: other })),
    ];
    const sockets = await Promise.all(
      specs.map(async (s) => {
        const token = await signToken({ ...s, role: 'staff' });
        return {
          ...s,
          ...(await connect(suite.srv.url, token, {
            record: ['message:new', 'alert:emergency', 'notification:sync'],
          })),
        };
      }),
    );
    try {
      await Promise.all(
        sockets.map((s) =>
          s.recorder.until((r) => r.of('notification:sync').length > 0, 15_000, 'sync'),
        ),
      );
      for (const s of sockets) {
        const i = users.indexOf(s.userId);
        const mine = s.organizationId !== org ? [] : i < 18 ? missedA : missedB;
        expect(
          s.recorder.of('message:new').map((p) => [p.message.id, p.replayed]),
          `${s.organizationId}/${s.userId}`,
        ).toEqual(mine.map((m) => [m.id, true]));
        const wantsAlert = s.organizationId === org && i >= 2;
        // The alert replay runs after the notification sync: wait for it where it is due.
        if (wantsAlert)
          await s.recorder.until((r) => r.of('alert:emergency').length > 0, 10_000, 'alert');
        expect(
          s.recorder.of('alert:emergency').map((p) => [p.alert.id, p.replayed]),
          `${s.organizationId}/${s.userId}`,
        ).toEqual(wantsAlert ? [[alertId, true]] : []);
      }
      const status = await http<{ recipients: Record<string, number> }>(
        suite.srv.url,
        'GET',
        `/api/v1/alerts/${alertId}`,
        { token: service },
      );
      // Every member who connected got it (delivered) or acknowledged it.
      expect(status.body.recipients.delivered).toBe(users.length + 1); // and the sender, live
      expect(status.body.recipients.acknowledged).toBe(2);
      // Members were recorded by the grouped upserts: an alert raised now targets all of them.
      const again = await http<{ alert: Alert }>(
        suite.srv.url,
        'POST',
        '/api/v1/alerts/emergency',
        {
          token: service,
          body: { organizationId: org, title: 'Drill 2', message: 'Stay inside' },
        },
      );
      const counts = await http<{ recipients: Record<string, number> }>(
        suite.srv.url,
        'GET',
        `/api/v1/alerts/${again.body.alert.id}`,
        { token: service },
      );
      // The 36 users and the sender.
      expect(counts.body.recipients.targeted).toBe(users.length + 1);
    } finally {
      closeAll(...sockets.map((s) => s.socket));
    }
  });
  it('sockets of one batch with different cursors and different unread notifications: each its own replay and sync', async () => {
    const org = uid('org');
    const sender = await suite.connectUser(uid('sender'), org);
    const users = Array.from({ length: 12 }, (_, i) => `${org}-v${i}`);
    const conv = await conversation(sender, users);
    const first = await send(sender, conv.id);
    // v0–v5 had the first message delivered before they left; v6–v11 never came.
    for (const userId of users.slice(0, 6)) {
      const c = await connectReady(suite.srv.url, { userId, organizationId: org });
      await ok(c.socket, 'message:delivered', { conversationId: conv.id, messageId: first.id });
      c.socket.close();
    }
    const later = [await send(sender, conv.id), await send(sender, conv.id)];
    // User vi has i unread notifications (titles name their owner and number).
    const service = await signToken({ userId: 'svc', organizationId: org, role: 'service' });
    for (let i = 1; i < users.length; i++)
      for (let k = 0; k < i; k++) {
        const r = await http(suite.srv.url, 'POST', '/api/v1/notifications', {
          token: service,
          body: {
            organizationId: org,
            userIds: [users[i]],
            type: 'test',
            title: `${users[i]}#${k}`,
          },
        });
        expect(r.status).toBe(202);
      }
    const sockets = await Promise.all(
      users.map(async (userId) => ({
        userId,
        ...(await connect(
          suite.srv.url,
          await signToken({ userId, organizationId: org, role: 'staff' }),
          { record: ['message:new', 'notification:sync'] },
        )),
      })),
    );
    try {
      await Promise.all(
        sockets.map((s) =>
          s.recorder.until((r) => r.of('notification:sync').length > 0, 15_000, 'sync'),
        ),
      );
      for (const [i, s] of sockets.entries()) {
        const want = i < 6 ? later : [first, ...later];
        expect(
          s.recorder.of('message:new').map((p) => [p.message.id, p.replayed]),
          s.userId,
        ).toEqual(want.map((m) => [m.id, true]));
        const [sync] = s.recorder.of('notification:sync');
        expect(sync.unreadCount, s.userId).toBe(i);
        // Newest first.
        expect(
          sync.unread.map((n) => n.title),
          s.userId,
        ).toEqual(Array.from({ length: i }, (_, k) => `${s.userId}#${i - 1 - k}`));
      }
    } finally {
      closeAll(...sockets.map((s) => s.socket));
    }
  });
});
