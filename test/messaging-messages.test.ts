import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../src/persistence/db-rows.js';
import { closeAll, ok, rawRequest, request, settle, waitFor } from './support/client.js';
import { conversation, chatSuite, send, uid, user } from './support/messaging.js';
import { startServer } from './support/server.js';

describe('messages: send, edit, delete, typing', () => {
  const suite = chatSuite();
  const { connectUser } = suite;

  it('send: ack after storing, message:new once to every session of every participant (joined or not) and the room', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const aOther = await connectUser(a.userId, org, { namespace: '/communication' });
    const b = await connectUser(uid('b'), org);
    const outsider = await connectUser(uid('x'), org);
    const conv = await conversation(a, [b.userId]);
    // b is in the room and in its user room: still one copy.
    await ok(b.socket, 'conversation:join', { conversationId: conv.id });
    const messageId = randomUUID();
    const { message } = await ok(a.socket, 'message:send', {
      messageId,
      conversationId: conv.id,
      content: 'first',
      type: 'text',
      metadata: { urgent: true },
    });
    expect(message).toMatchObject({
      id: messageId,
      conversationId: conv.id,
      seq: 1,
      senderId: a.userId,
      organizationId: org,
      type: 'text',
      content: 'first',
      metadata: { urgent: true },
      editedAt: null,
      deletedAt: null,
    });
    for (const c of [a, aOther, b]) await c.recorder.until((r) => r.of('message:new').length >= 1);
    await Promise.all([a, aOther, b, outsider].map((c) => settle(c.socket)));
    for (const c of [a, aOther, b]) expect(c.recorder.of('message:new')).toEqual([{ message }]);
    expect(outsider.recorder.of('message:new')).toEqual([]);

    // Same messageId from the same sender: the stored message, nothing new broadcast or stored.
    const again = await ok(a.socket, 'message:send', {
      messageId,
      conversationId: conv.id,
      content: 'changed?',
    });
    expect(again.message).toEqual(message);
    await Promise.all([a, b].map((c) => settle(c.socket)));
    expect(b.recorder.of('message:new')).toHaveLength(1);
    const next = await send(a, conv.id);
    expect(next.seq).toBe(2);

    // Another sender, or another conversation → CONFLICT.
    const byB = await request(b.socket, 'message:send', {
      messageId,
      conversationId: conv.id,
      content: 'x',
    });
    expect(!byB.ok && byB.error.type).toBe('CONFLICT');
    const conv2 = await conversation(a, [b.userId]);
    const elsewhere = await request(a.socket, 'message:send', {
      messageId,
      conversationId: conv2.id,
      content: 'x',
    });
    expect(!elsewhere.ok && elsewhere.error.type).toBe('CONFLICT');
    const page = await ok(a.socket, 'conversation:history', { conversationId: conv2.id });
    expect(page.messages).toEqual([]);
  });

  it('the same messageId sent concurrently is stored once and broadcast once', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const a2 = await connectUser(a.userId, org);
    const b = await connectUser(uid('b'), org);
    const conv = await conversation(a, [b.userId]);
    const messageId = randomUUID();
    const acks = await Promise.all(
      [a, a2, a, a2].map((c) =>
        ok(c.socket, 'message:send', { messageId, conversationId: conv.id, content: 'race' }),
      ),
    );
    for (const r of acks) expect(r.message).toEqual(acks[0].message);
    expect(acks[0].message.seq).toBe(1);
    await b.recorder.until((r) => r.of('message:new').length >= 1);
    await settle(b.socket);
    expect(b.recorder.of('message:new')).toHaveLength(1);
    expect((await send(a, conv.id)).seq).toBe(2);
  });

  it('refuses bad sends with VALIDATION_ERROR and stores nothing', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const conv = await conversation(a, [uid('b')]);
    const base = { messageId: randomUUID(), conversationId: conv.id, content: 'ok' };
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ ...base, messageId: 'nope' }, 'messageId'],
      [{ ...base, messageId: '6f1c2a3e-1111-1111-1111-111111111111' }, 'messageId'], // not v4
      [{ ...base, content: '' }, 'content'],
      [{ ...base, content: 'x'.repeat(10001) }, 'content'],
      [{ ...base, type: 'image' }, 'type'],
      [{ ...base, metadata: { blob: 'x'.repeat(3000) } }, 'metadata'],
      [{ ...base, metadata: 'str' }, 'metadata'],
      [{ ...base, extra: true }, 'extra'],
    ];
    for (const [payload, field] of bad) {
      const res = await rawRequest(a.socket, 'message:send', payload);
      expect(res.ok).toBe(false);
      if (!res.ok) {
        expect(res.error.type).toBe('VALIDATION_ERROR');
        expect((res.error.details as Array<{ field: string }>).map((d) => d.field)).toContain(
          field,
        );
      }
    }
    expect(
      (await ok(a.socket, 'conversation:history', { conversationId: conv.id })).messages,
    ).toEqual([]);
  });

  it('without an ack: a refused send arrives as an `error` event, a valid one is stored and delivered', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const conv = await conversation(a, [b.userId]);
    const refused = waitFor(a.socket, 'error');
    a.socket.emit('message:send', { messageId: 'nope', conversationId: conv.id, content: 'x' });
    const error = await refused;
    expect(error).toMatchObject({ type: 'VALIDATION_ERROR', event: 'message:send' });
    expect((error.details as Array<{ field: string }>).map((d) => d.field)).toEqual(['messageId']);
    const messageId = randomUUID();
    a.socket.emit('message:send', { messageId, conversationId: conv.id, content: 'no ack' });
    await b.recorder.until((r) => r.of('message:new').some((e) => e.message.id === messageId));
    await settle(a.socket);
    expect(
      (await ok(a.socket, 'conversation:history', { conversationId: conv.id })).messages.map(
        (m) => m.id,
      ),
    ).toEqual([messageId]);
  });

  it('edit: the sender only; message:edited to the audience; deleted → RESOURCE_NOT_FOUND', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const admin = await connectUser(uid('adm'), org, { role: 'admin' });
    const foreign = await connectUser(a.userId, uid('org2'));
    const conv = await conversation(a, [b.userId]);
    const m = await send(a, conv.id, 'before');
    const { message: edited } = await ok(a.socket, 'message:edit', {
      messageId: m.id,
      content: 'after',
    });
    expect(edited).toMatchObject({
      id: m.id,
      seq: m.seq,
      content: 'after',
      createdAt: m.createdAt,
      deletedAt: null,
    });
    expect(edited.editedAt).not.toBeNull();
    await b.recorder.until((r) => r.of('message:edited').length === 1);
    expect(b.recorder.of('message:edited')[0]).toEqual({ message: edited });

    const byB = await request(b.socket, 'message:edit', { messageId: m.id, content: 'hijack' });
    expect(!byB.ok && byB.error.type).toBe('AUTHORIZATION_FAILED');
    const byAdmin = await request(admin.socket, 'message:edit', {
      messageId: m.id,
      content: 'hijack',
    });
    expect(!byAdmin.ok && byAdmin.error.type).toBe('AUTHORIZATION_FAILED');
    const byForeign = await request(foreign.socket, 'message:edit', {
      messageId: m.id,
      content: 'hijack',
    });
    expect(!byForeign.ok && byForeign.error.type).toBe('RESOURCE_NOT_FOUND');
    const unknown = await request(a.socket, 'message:edit', {
      messageId: randomUUID(),
      content: 'x',
    });
    expect(!unknown.ok && unknown.error.type).toBe('RESOURCE_NOT_FOUND');
    const tooLong = await rawRequest(a.socket, 'message:edit', {
      messageId: m.id,
      content: 'x'.repeat(10001),
    });
    expect(!tooLong.ok && (tooLong as { error: { type: string } }).error.type).toBe(
      'VALIDATION_ERROR',
    );

    await ok(a.socket, 'message:delete', { messageId: m.id });
    const afterDelete = await request(a.socket, 'message:edit', {
      messageId: m.id,
      content: 'revive',
    });
    expect(!afterDelete.ok && afterDelete.error.type).toBe('RESOURCE_NOT_FOUND');
    const h = await ok(a.socket, 'conversation:history', { conversationId: conv.id });
    expect(h.messages[0].content).toBe('');
  });

  it('delete: the sender or an org admin (participant or not); content erased everywhere it is served', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const admin = await connectUser(uid('adm'), org, { role: 'admin' });
    const foreignAdmin = await connectUser(uid('adm'), uid('org2'), { role: 'admin' });
    const conv = await conversation(a, [b.userId]);
    const m1 = await ok(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: 'secret one',
      metadata: { k: 'v' },
    });
    const m2 = await send(a, conv.id, 'secret two');

    const byB = await request(b.socket, 'message:delete', { messageId: m1.message.id });
    expect(!byB.ok && byB.error.type).toBe('AUTHORIZATION_FAILED');
    const byForeign = await request(foreignAdmin.socket, 'message:delete', {
      messageId: m1.message.id,
    });
    expect(!byForeign.ok && byForeign.error.type).toBe('RESOURCE_NOT_FOUND');

    const del = await ok(a.socket, 'message:delete', { messageId: m1.message.id });
    expect(del.messageId).toBe(m1.message.id);
    expect(new Date(del.deletedAt).toISOString()).toBe(del.deletedAt);
    await b.recorder.until((r) => r.of('message:deleted').length === 1);
    expect(b.recorder.of('message:deleted')[0]).toEqual({
      messageId: m1.message.id,
      conversationId: conv.id,
      deletedAt: del.deletedAt,
    });

    // Deleting again answers the first deletion and emits nothing.
    const twice = await ok(a.socket, 'message:delete', { messageId: m1.message.id });
    expect(twice).toEqual(del);

    // The admin is not a participant and may still delete.
    const byAdmin = await ok(admin.socket, 'message:delete', { messageId: m2.id });
    expect(byAdmin.messageId).toBe(m2.id);
    await b.recorder.until((r) => r.of('message:deleted').length === 2);
    await settle(b.socket);
    expect(b.recorder.of('message:deleted')).toHaveLength(2);

    const erased = (
      msgs: Array<{ content: string; metadata: unknown; deletedAt: string | null }>,
    ) => {
      for (const m of msgs) expect(m).toMatchObject({ content: '', metadata: {} });
      for (const m of msgs) expect(m.deletedAt).not.toBeNull();
    };
    erased((await ok(b.socket, 'conversation:history', { conversationId: conv.id })).messages);
    erased((await ok(b.socket, 'conversation:join', { conversationId: conv.id })).messages);
    erased(
      (await ok(b.socket, 'conversation:join', { conversationId: conv.id, afterSeq: 0 })).messages,
    );
    // And in replay: a fresh socket of b (cursor still 0) gets both, erased.
    const b2 = await connectUser(b.userId, org);
    await b2.recorder.until((r) => r.of('message:new').length === 2);
    erased(b2.recorder.of('message:new').map((e) => e.message));
    // The stored row itself holds no content any more.
    const rows = await queryRows<{ content: string; metadata: unknown }>(
      suite.srv.database.db,
      sql`SELECT content, metadata FROM messages WHERE conversation_id = ${conv.id}`,
    );
    expect(rows).toEqual([
      { content: '', metadata: {} },
      { content: '', metadata: {} },
    ]);
  });

  it('typing: to the conversation room except the typing socket, on both namespaces; non-participant refused', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const aSecond = await connectUser(a.userId, org, { namespace: '/communication' });
    const b = await connectUser(uid('b'), org, { namespace: '/communication' });
    const c = await connectUser(uid('c'), org);
    const conv = await conversation(a, [b.userId, c.userId]);
    for (const s of [a, aSecond, b])
      await ok(s.socket, 'conversation:join', { conversationId: conv.id });
    // c is a participant but did not join: typing is for the room only.
    expect(
      await ok(a.socket, 'message:typing', { conversationId: conv.id, isTyping: true }),
    ).toEqual({});
    const expected = { conversationId: conv.id, userId: a.userId, isTyping: true };
    await b.recorder.until((r) => r.of('message:typing').length === 1);
    await aSecond.recorder.until((r) => r.of('message:typing').length === 1);
    await Promise.all([a, b, c, aSecond].map((s) => settle(s.socket)));
    expect(b.recorder.of('message:typing')).toEqual([expected]);
    expect(aSecond.recorder.of('message:typing')).toEqual([expected]);
    expect(a.recorder.of('message:typing')).toEqual([]);
    expect(c.recorder.of('message:typing')).toEqual([]);
    const bad = await rawRequest(a.socket, 'message:typing', {
      conversationId: conv.id,
      isTyping: 'yes',
    });
    expect(!bad.ok && (bad as { error: { type: string } }).error.type).toBe('VALIDATION_ERROR');
  });

  it('typing over the limit acks {} and emits nothing', async () => {
    const limited = await startServer({
      env: {
        RATE_LIMITS: JSON.stringify({
          'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
          'message:typing': { maxTokens: 2, refillIntervalMs: 600000 },
        }),
      },
    });
    try {
      const org = uid('org');
      const a = await user(limited.url, uid('a'), org);
      const b = await user(limited.url, uid('b'), org);
      const conv = await conversation(a, [b.userId]);
      await ok(b.socket, 'conversation:join', { conversationId: conv.id });
      for (let i = 0; i < 4; i++)
        expect(
          await request(a.socket, 'message:typing', {
            conversationId: conv.id,
            isTyping: i % 2 === 0,
          }),
        ).toEqual({ ok: true, data: {} });
      await b.recorder.until((r) => r.of('message:typing').length === 2);
      await settle(a.socket);
      await settle(b.socket);
      expect(b.recorder.of('message:typing')).toHaveLength(2);
      closeAll(a.socket, b.socket);
    } finally {
      await limited.close();
    }
  });

  it('cross-namespace: sent on / reaches a participant only on /communication, and the reverse', async () => {
    const org = uid('org');
    const onRoot = await connectUser(uid('r'), org);
    const onComm = await connectUser(uid('c'), org, { namespace: '/communication' });
    const conv = await conversation(onRoot, [onComm.userId]);
    await onComm.recorder.until((r) => r.of('conversation:new').length === 1);
    const m1 = await send(onRoot, conv.id, 'root → comm');
    await onComm.recorder.until((r) => r.of('message:new').some((e) => e.message.id === m1.id));
    const m2 = await send(onComm, conv.id, 'comm → root');
    await onRoot.recorder.until((r) => r.of('message:new').some((e) => e.message.id === m2.id));
    expect(onRoot.recorder.of('message:new').find((e) => e.message.id === m2.id)?.message).toEqual(
      m2,
    );
  });
});
