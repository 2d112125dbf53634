import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AlertCreation } from '../src/alerts/alert-creation.service.js';
import { MessagesService } from '../src/messaging/messages.service.js';
import type { Alert, Message } from '../src/protocol/models.js';
import { RealtimePublisher } from '../src/gateway/publisher/realtime.publisher.js';
import type { SessionContext } from '../src/gateway/publisher/session-hooks.js';
import { SessionService } from '../src/gateway/sessions/session.service.js';
import { closeAll, connect, ok, settle } from './support/client.js';
import { chatSuite, conversation, send, uid } from './support/messaging.js';
import { signToken } from './support/tokens.js';

/**
 * §12.4's two races, made deterministic with a connect hook of the test's own that runs inside
 * the real connect sequence of one socket (the storm test shows them happening by themselves):
 * 1. live before replay: a message is sent and an emergency alert raised after the socket
 *    joined its rooms but before the replay hooks (order 20 and 40) query the database;
 * 2. replay before live: after the replays, the same message and alert are broadcast again, as
 *    a node's broadcast still in flight when the replay ran would arrive.
 * Each must reach the socket once as `message:new` / first-copy `alert:emergency`; a new message
 * broadcast right after still arrives.
 */
describe('a connecting socket gets each message and alert once (§12.4)', () => {
  const suite = chatSuite();

  it('live before replay: what arrived live is not replayed', async () => {
    const org = uid('org');
    const sender = await suite.connectUser(uid('sender'), org);
    const targetId = uid('target');
    const conv = await conversation(sender, [targetId]);
    const app = suite.srv.app;
    const sessions = app.get(SessionService);
    let sentLive: Message | undefined;
    let alertLive: Alert | undefined;
    const isTarget = (ctx: SessionContext) => ctx.user.userId === targetId;
    sessions.registerHook({
      name: 'test-live-message',
      order: 15,
      namespaces: ['/'],
      onConnect: async (ctx) => {
        if (!isTarget(ctx)) return;
        ({ message: sentLive } = await app
          .get(MessagesService)
          .send(
            { userId: sender.userId, organizationId: org, role: 'staff' },
            { messageId: randomUUID(), conversationId: conv.id, content: 'during connect' },
          ));
      },
    });
    sessions.registerHook({
      name: 'test-live-alert',
      order: 35,
      namespaces: ['/'],
      onConnect: async (ctx) => {
        if (!isTarget(ctx)) return;
        ({ alert: alertLive } = await app
          .get(AlertCreation)
          .createEmergency(
            { userId: 'svc', organizationId: org, role: 'service' },
            { organizationId: org, title: 'Drill', message: 'Stay inside' },
          ));
      },
    });
    const token = await signToken({ userId: targetId, organizationId: org, role: 'staff' });
    const target = await connect(suite.srv.url, token, {
      record: ['message:new', 'alert:emergency', 'notification:sync'],
    });
    try {
      await target.recorder.until((r) => r.of('alert:emergency').length > 0, 10_000, 'the alert');
      await settle(target.socket);
      expect(sentLive).toBeDefined();
      const messages = target.recorder.of('message:new').map((p) => p.message.id);
      expect(messages).toEqual([sentLive!.id]);
      const alerts = target.recorder.of('alert:emergency').filter((p) => !p.redelivered);
      expect(alerts.map((p) => p.alert.id)).toEqual([alertLive!.id]);
      expect(alerts[0].replayed).toBeUndefined();
    } finally {
      closeAll(target.socket);
    }
  });

  it('replay before live: a late live copy of a replayed item is dropped, new items pass', async () => {
    const org = uid('org');
    const sender = await suite.connectUser(uid('sender'), org);
    const targetId = uid('target');
    const conv = await conversation(sender, [targetId]);
    const missed = await send(sender, conv.id, 'while offline');
    const service = { userId: 'svc', organizationId: org, role: 'service' as const };
    const app = suite.srv.app;
    const { alert } = await app
      .get(AlertCreation)
      .createEmergency(service, { organizationId: org, title: 'Drill', message: 'Stay inside' });
    const publisher = app.get(RealtimePublisher);
    app.get(SessionService).registerHook({
      name: 'test-late-broadcast',
      order: 45,
      namespaces: ['/'],
      onConnect: (ctx) => {
        if (ctx.user.userId !== targetId) return Promise.resolve();
        // The broadcasts a node emits after its commit, arriving after the replay sent both.
        publisher.toConversation(
          conv.id,
          [sender.userId, targetId],
          'message:new',
          {
            message: missed,
          },
          { organizationId: org },
        );
        publisher.toOrg(org, 'alert:emergency', { alert });
        return Promise.resolve();
      },
    });
    const token = await signToken({ userId: targetId, organizationId: org, role: 'staff' });
    const target = await connect(suite.srv.url, token, {
      record: ['message:new', 'alert:emergency'],
    });
    try {
      await target.recorder.until((r) => r.of('alert:emergency').length > 0, 10_000, 'alert');
      // After the connect sequence (a ping round trip later) the same late copy again: dropped
      // during the hold too.
      await settle(target.socket);
      publisher.toConversation(
        conv.id,
        [targetId],
        'message:new',
        { message: missed },
        {
          organizationId: org,
        },
      );
      const fresh = await send(sender, conv.id, 'after connect');
      await target.recorder.until(
        (r) => r.of('message:new').some((p) => p.message.id === fresh.id),
        10_000,
        'the new message',
      );
      await settle(target.socket);
      const messages = target.recorder.of('message:new');
      expect(messages.map((p) => [p.message.id, p.replayed ?? false])).toEqual([
        [missed.id, true],
        [fresh.id, false],
      ]);
      const alerts = target.recorder.of('alert:emergency').filter((p) => !p.redelivered);
      expect(alerts.map((p) => [p.alert.id, p.replayed ?? false])).toEqual([[alert.id, true]]);
      // A socket that was not replaying (the sender) gets live copies as before.
      await ok(sender.socket, 'ping');
    } finally {
      closeAll(target.socket);
    }
  });
});
