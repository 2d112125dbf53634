import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ok, rawRequest, request, settle } from './support/client.js';
import { conversation, chatSuite, send, uid } from './support/messaging.js';

describe('conversations: create, join, history, leave', () => {
  const suite = chatSuite();
  const { connectUser } = suite;

  it('creates a conversation (creator added), conversation:new once to every session of every participant', async () => {
    const org = uid('org');
    const [aId, bId, cId] = [uid('a'), uid('b'), uid('c')];
    const a = await connectUser(aId, org);
    const a2 = await connectUser(aId, org, { namespace: '/communication' });
    const b = await connectUser(bId, org);
    const outsider = await connectUser(uid('x'), org);
    const id = randomUUID();
    const { conversation: conv } = await ok(a.socket, 'conversation:create', {
      conversationId: id,
      title: 'Ward 3',
      participantIds: [bId, cId],
    });
    expect(conv).toMatchObject({
      id,
      organizationId: org,
      title: 'Ward 3',
      createdBy: aId,
      lastSeq: 0,
    });
    expect([...conv.participantIds].sort()).toEqual([aId, bId, cId].sort());
    expect(new Date(conv.createdAt).toISOString()).toBe(conv.createdAt);
    for (const c of [a, a2, b]) await c.recorder.until((r) => r.of('conversation:new').length >= 1);
    await Promise.all([a, a2, b, outsider].map((c) => settle(c.socket)));
    for (const c of [a, a2, b])
      expect(c.recorder.of('conversation:new')).toEqual([{ conversation: conv }]);
    expect(outsider.recorder.of('conversation:new')).toEqual([]);

    // Idempotent: same id, same creator → the same conversation and no second conversation:new.
    const again = await ok(a.socket, 'conversation:create', {
      conversationId: id,
      participantIds: [bId],
    });
    expect(again.conversation).toEqual(conv);
    await Promise.all([a, b].map((c) => settle(c.socket)));
    expect(b.recorder.of('conversation:new')).toHaveLength(1);
    expect(a.recorder.of('conversation:new')).toHaveLength(1);

    // The same id by another creator, or another organization → CONFLICT.
    const byB = await request(b.socket, 'conversation:create', {
      conversationId: id,
      participantIds: [aId],
    });
    expect(!byB.ok && byB.error.type).toBe('CONFLICT');
    const other = await connectUser(aId, uid('org'));
    const byOtherOrg = await request(other.socket, 'conversation:create', {
      conversationId: id,
      participantIds: [bId],
    });
    expect(!byOtherOrg.ok && byOtherOrg.error.type).toBe('CONFLICT');
  });

  it('generates an id when none is given; refuses bad payloads with VALIDATION_ERROR', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const conv = await conversation(a, [uid('b')]);
    expect(conv.id).toMatch(/^[0-9a-f-]{36}$/);
    const bad = [
      {},
      { participantIds: [] },
      { participantIds: ['ok', 'not ok'] },
      { participantIds: Array.from({ length: 501 }, (_, i) => `u${i}`) },
      { participantIds: ['b'], title: 'x'.repeat(201) },
      { participantIds: ['b'], conversationId: 'not-a-uuid' },
      { participantIds: ['b'], extra: 1 },
    ];
    for (const payload of bad) {
      const res = await rawRequest(a.socket, 'conversation:create', payload);
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.type).toBe('VALIDATION_ERROR');
    }
    const res = await rawRequest(a.socket, 'conversation:create', {
      participantIds: ['ok', 'not ok'],
    });
    expect(!res.ok && res.error.details).toEqual([
      { field: 'participantIds.1', constraints: ['matches'] },
    ]);
  });

  it('join: participants only, newest `limit` or everything after `afterSeq`, with hasMore and lastSeq', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const conv = await conversation(a, [b.userId]);
    const sent = [];
    for (let i = 0; i < 7; i++) sent.push(await send(a, conv.id, `m${i}`));
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const newest = await ok(b.socket, 'conversation:join', { conversationId: conv.id, limit: 3 });
    expect(newest.messages.map((m) => m.seq)).toEqual([5, 6, 7]);
    expect(newest.hasMore).toBe(true);
    expect(newest.lastSeq).toBe(7);
    expect(newest.conversation).toMatchObject({ id: conv.id, lastSeq: 7 });
    expect(newest.messages[0]).toEqual(sent[4]);

    const all = await ok(b.socket, 'conversation:join', { conversationId: conv.id });
    expect(all.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.hasMore).toBe(false);

    const after = await ok(b.socket, 'conversation:join', {
      conversationId: conv.id,
      afterSeq: 2,
      limit: 3,
    });
    expect(after.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(after.hasMore).toBe(true);
    const tail = await ok(b.socket, 'conversation:join', {
      conversationId: conv.id,
      afterSeq: 5,
      limit: 3,
    });
    expect(tail.messages.map((m) => m.seq)).toEqual([6, 7]);
    expect(tail.hasMore).toBe(false);
    const none = await ok(b.socket, 'conversation:join', { conversationId: conv.id, afterSeq: 7 });
    expect(none).toMatchObject({ messages: [], hasMore: false, lastSeq: 7 });

    for (const payload of [
      { conversationId: conv.id, limit: 0 },
      { conversationId: conv.id, limit: 101 },
      { conversationId: conv.id, afterSeq: -1 },
    ]) {
      const res = await rawRequest(b.socket, 'conversation:join', payload);
      expect(!res.ok && (res as { error: { type: string } }).error.type).toBe('VALIDATION_ERROR');
    }
  });

  it('join puts the socket in the conversation room, leave takes it out (membership stays)', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const b = await connectUser(uid('b'), org);
    const conv = await conversation(a, [b.userId]);
    // Typing goes to the room only: b sees it after joining, not after leaving.
    await ok(b.socket, 'conversation:join', { conversationId: conv.id });
    await ok(a.socket, 'message:typing', { conversationId: conv.id, isTyping: true });
    await b.recorder.until((r) => r.of('message:typing').length === 1);
    expect(b.recorder.of('message:typing')[0]).toEqual({
      conversationId: conv.id,
      userId: a.userId,
      isTyping: true,
    });
    expect(await ok(b.socket, 'conversation:leave', { conversationId: conv.id })).toEqual({
      conversationId: conv.id,
    });
    await ok(a.socket, 'message:typing', { conversationId: conv.id, isTyping: false });
    await settle(b.socket);
    await settle(a.socket);
    expect(b.recorder.of('message:typing')).toHaveLength(1);
    // Still a participant: messages reach b's user room.
    const m = await send(a, conv.id);
    await b.recorder.until((r) => r.of('message:new').some((e) => e.message.id === m.id));
  });

  it('history: older pages oldest first, beforeSeq, hasMore', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const conv = await conversation(a, [uid('b')]);
    for (let i = 0; i < 5; i++) await send(a, conv.id, `h${i}`);
    const p1 = await ok(a.socket, 'conversation:history', { conversationId: conv.id, limit: 2 });
    expect(p1.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(p1.hasMore).toBe(true);
    const p2 = await ok(a.socket, 'conversation:history', {
      conversationId: conv.id,
      beforeSeq: 4,
      limit: 2,
    });
    expect(p2.messages.map((m) => m.seq)).toEqual([2, 3]);
    expect(p2.hasMore).toBe(true);
    const p3 = await ok(a.socket, 'conversation:history', {
      conversationId: conv.id,
      beforeSeq: 2,
      limit: 2,
    });
    expect(p3.messages.map((m) => m.seq)).toEqual([1]);
    expect(p3.hasMore).toBe(false);
    expect(p3.messages[0].content).toBe('h0');
    const whole = await ok(a.socket, 'conversation:history', { conversationId: conv.id });
    expect(whole.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const bad = await rawRequest(a.socket, 'conversation:history', {
      conversationId: conv.id,
      beforeSeq: 0,
    });
    expect(!bad.ok && (bad as { error: { type: string } }).error.type).toBe('VALIDATION_ERROR');
  });

  it('another organization’s conversation is RESOURCE_NOT_FOUND; a non-participant of the same org AUTHORIZATION_FAILED', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org);
    const conv = await conversation(a, [uid('b')]);
    const stranger = await connectUser(uid('s'), org);
    const foreign = await connectUser(a.userId, uid('org2'));
    const cases = [
      ['conversation:join', { conversationId: conv.id }],
      ['conversation:history', { conversationId: conv.id }],
      ['conversation:leave', { conversationId: conv.id }],
      ['message:send', { conversationId: conv.id, messageId: randomUUID(), content: 'x' }],
      ['message:typing', { conversationId: conv.id, isTyping: true }],
    ] as const;
    for (const [event, payload] of cases) {
      const s = await rawRequest(stranger.socket, event, payload);
      expect(!s.ok && (s as { error: { type: string } }).error.type, `${event} stranger`).toBe(
        'AUTHORIZATION_FAILED',
      );
      const f = await rawRequest(foreign.socket, event, payload);
      expect(!f.ok && (f as { error: { type: string } }).error.type, `${event} foreign`).toBe(
        'RESOURCE_NOT_FOUND',
      );
    }
    const unknown = await rawRequest(a.socket, 'conversation:join', {
      conversationId: randomUUID(),
    });
    expect(!unknown.ok && (unknown as { error: { type: string } }).error.type).toBe(
      'RESOURCE_NOT_FOUND',
    );
  });

  it('serves the same events on /communication', async () => {
    const org = uid('org');
    const a = await connectUser(uid('a'), org, { namespace: '/communication' });
    const conv = await conversation(a, [uid('b')]);
    await send(a, conv.id, 'via communication');
    const j = await ok(a.socket, 'conversation:join', { conversationId: conv.id });
    expect(j.messages.map((m) => m.content)).toEqual(['via communication']);
  });
});
