import { describe, expect, it } from 'vitest';
import { ok, settle } from './support/client.js';
import { conversation, chatSuite, send, uid } from './support/messaging.js';

describe('offline replay on connect (§4 step 4)', () => {
  const suite = chatSuite();
  const { connectUser } = suite;

  it('an offline user gets exactly the missed messages, oldest first, flagged replayed; nothing after message:delivered', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const bId = uid('b');
    const conv = await conversation(a, [bId]);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await send(a, conv.id, `missed ${i}`));

    for (const namespace of ['/', '/communication'] as const) {
      const b = await connectUser(bId, org, { namespace });
      await b.recorder.until((r) => r.of('message:new').length === 5);
      await settle(b.socket);
      expect(b.recorder.of('message:new')).toEqual(
        sent.map((message) => ({ message, replayed: true })),
      );
      b.socket.close();
    }
    // Confirm up to the third: only the last two come again.
    const b = await connectUser(bId, org);
    await b.recorder.until((r) => r.of('message:new').length === 5);
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: sent[2].id });
    b.socket.close();
    const b2 = await connectUser(bId, org);
    await b2.recorder.until((r) => r.of('message:new').length === 2);
    await settle(b2.socket);
    expect(b2.recorder.of('message:new').map((e) => e.message.seq)).toEqual([4, 5]);
    await ok(b2.socket, 'message:read', { conversationId: conv.id, messageId: sent[4].id });
    b2.socket.close();
    const b3 = await connectUser(bId, org);
    await settle(b3.socket);
    expect(b3.recorder.of('message:new')).toEqual([]);
    // The sender's own messages are not replayed to the sender.
    const a2 = await connectUser(a.userId, org);
    await settle(a2.socket);
    expect(a2.recorder.of('message:new')).toEqual([]);
  });

  it('more than 100 undelivered → conversation:sync-required instead (never partial); others still replay; join afterSeq pages', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const bId = uid('b');
    const big = await conversation(a, [bId]);
    const small = await conversation(a, [bId]);
    await Promise.all(Array.from({ length: 101 }, (_, i) => send(a, big.id, `bulk ${i}`)));
    const s1 = await send(a, small.id, 'small 1');
    const exactly100 = await conversation(a, [bId]);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => send(a, exactly100.id, `hundred ${i}`)),
    );

    const b = await connectUser(bId, org, { namespace: '/communication' });
    await b.recorder.until(
      (r) => r.of('conversation:sync-required').length === 1 && r.of('message:new').length === 101,
      10_000,
    );
    await settle(b.socket);
    expect(b.recorder.of('conversation:sync-required')).toEqual([
      { conversationId: big.id, deliveredSeq: 0, lastSeq: 101 },
    ]);
    const replayed = b.recorder.of('message:new');
    expect(replayed.every((e) => e.replayed === true)).toBe(true);
    expect(replayed.filter((e) => e.message.conversationId === big.id)).toEqual([]);
    expect(
      replayed.filter((e) => e.message.conversationId === small.id).map((e) => e.message),
    ).toEqual([s1]);
    expect(
      replayed.filter((e) => e.message.conversationId === exactly100.id).map((e) => e.message.seq),
    ).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // The client pages with join afterSeq.
    const page1 = await ok(b.socket, 'conversation:join', {
      conversationId: big.id,
      afterSeq: 0,
      limit: 100,
    });
    expect(page1.messages.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(page1.hasMore).toBe(true);
    const page2 = await ok(b.socket, 'conversation:join', {
      conversationId: big.id,
      afterSeq: 100,
      limit: 100,
    });
    expect(page2.messages.map((m) => m.seq)).toEqual([101]);
    expect(page2.hasMore).toBe(false);
  });
});
