import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok, rawRequest, request, settle } from './support/client.js';
import { conversation, chatSuite, send, uid } from './support/messaging.js';

describe('receipts: message:delivered and message:read', () => {
  const suite = chatSuite();
  const { connectUser } = suite;

  /** a (sender, not joined), b (reader, not joined), c (joined the room), d (participant, not joined). */
  const setup = async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const c = await connectUser(uid('c'), org, { namespace: '/communication' });
    const d = await connectUser(uid('d'), org);
    const outsider = await connectUser(uid('x'), org);
    const conv = await conversation(a, [b.userId, c.userId, d.userId]);
    await ok(c.socket, 'conversation:join', { conversationId: conv.id });
    return { org, a, b, c, d, outsider, conv, all: [a, b, c, d, outsider] };
  };

  it('delivered: moves the cursor, receipt to the conversation room and the sender only, once', async () => {
    const { a, b, c, conv, all } = await setup();
    const m1 = await send(a, conv.id);
    const m2 = await send(a, conv.id);
    const ack = await ok(b.socket, 'message:delivered', {
      conversationId: conv.id,
      messageId: m1.id,
    });
    expect(ack).toMatchObject({ conversationId: conv.id, messageId: m1.id });
    expect(new Date(ack.deliveredAt).toISOString()).toBe(ack.deliveredAt);
    const receipt = {
      conversationId: conv.id,
      messageId: m1.id,
      userId: b.userId,
      deliveredAt: ack.deliveredAt,
    };
    await a.recorder.until((r) => r.of('message:delivered').length === 1);
    await c.recorder.until((r) => r.of('message:delivered').length === 1);
    await Promise.all(all.map((x) => settle(x.socket)));
    expect(a.recorder.of('message:delivered')).toEqual([receipt]);
    expect(c.recorder.of('message:delivered')).toEqual([receipt]);
    for (const x of all.filter((y) => y !== a && y !== c))
      expect(x.recorder.of('message:delivered')).toEqual([]);

    // Same message again, or an older one: the cursor does not move, no receipt.
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: m2.id });
    await a.recorder.until((r) => r.of('message:delivered').length === 2);
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: m2.id });
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: m1.id });
    await Promise.all(all.map((x) => settle(x.socket)));
    expect(a.recorder.of('message:delivered')).toHaveLength(2);
    expect(c.recorder.of('message:delivered')).toHaveLength(2);
  });

  it('read: moves read and delivered cursors; message:read (only) to the room and every participant', async () => {
    const { a, b, c, d, outsider, conv, all } = await setup();
    const m1 = await send(a, conv.id);
    const m2 = await send(a, conv.id);
    const ack = await ok(b.socket, 'message:read', { conversationId: conv.id, messageId: m2.id });
    const receipt = {
      conversationId: conv.id,
      messageId: m2.id,
      userId: b.userId,
      readAt: ack.readAt,
    };
    for (const x of [a, b, c, d]) await x.recorder.until((r) => r.of('message:read').length === 1);
    await Promise.all(all.map((x) => settle(x.socket)));
    for (const x of [a, b, c, d]) expect(x.recorder.of('message:read')).toEqual([receipt]);
    expect(outsider.recorder.of('message:read')).toEqual([]);
    for (const x of all) expect(x.recorder.of('message:delivered')).toEqual([]);
    // Delivered cursor moved with it: delivering m1 or m2 now moves nothing.
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: m2.id });
    await ok(b.socket, 'message:read', { conversationId: conv.id, messageId: m1.id });
    await Promise.all(all.map((x) => settle(x.socket)));
    for (const x of all) expect(x.recorder.of('message:delivered')).toEqual([]);
    expect(a.recorder.of('message:read')).toHaveLength(1);
  });

  it("sending moves the sender's own cursors without a receipt", async () => {
    const { a, conv, all } = await setup();
    const m = await send(a, conv.id);
    await ok(a.socket, 'message:delivered', { conversationId: conv.id, messageId: m.id });
    await ok(a.socket, 'message:read', { conversationId: conv.id, messageId: m.id });
    await Promise.all(all.map((x) => settle(x.socket)));
    for (const x of all) {
      expect(x.recorder.of('message:delivered')).toEqual([]);
      expect(x.recorder.of('message:read')).toEqual([]);
    }
  });

  it('refusals: unknown message or one of another conversation → RESOURCE_NOT_FOUND; stranger → AUTHORIZATION_FAILED; foreign → RESOURCE_NOT_FOUND', async () => {
    const { org, a, b, conv } = await setup();
    const other = await conversation(a, [b.userId]);
    const elsewhere = await send(a, other.id);
    const stranger = await connectUser(uid('s'), org);
    const foreign = await connectUser(b.userId, uid('org2'));
    const m = await send(a, conv.id);
    for (const event of ['message:delivered', 'message:read'] as const) {
      const unknown = await request(b.socket, event, {
        conversationId: conv.id,
        messageId: randomUUID(),
      });
      expect(!unknown.ok && unknown.error.type).toBe('RESOURCE_NOT_FOUND');
      const wrongConv = await request(b.socket, event, {
        conversationId: conv.id,
        messageId: elsewhere.id,
      });
      expect(!wrongConv.ok && wrongConv.error.type).toBe('RESOURCE_NOT_FOUND');
      const s = await request(stranger.socket, event, { conversationId: conv.id, messageId: m.id });
      expect(!s.ok && s.error.type).toBe('AUTHORIZATION_FAILED');
      const f = await request(foreign.socket, event, { conversationId: conv.id, messageId: m.id });
      expect(!f.ok && f.error.type).toBe('RESOURCE_NOT_FOUND');
      const bad = await rawRequest(b.socket, event, { conversationId: conv.id });
      expect(!bad.ok && (bad as { error: { type: string } }).error.type).toBe('VALIDATION_ERROR');
    }
  });
});
