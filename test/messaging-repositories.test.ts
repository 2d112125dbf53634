import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationsRepository } from '../src/messaging/conversations.repository.js';
import { MessageWriter, type WriteOutcome } from '../src/messaging/message-writer.js';
import { MessagesRepository, type NewMessage } from '../src/messaging/messages.repository.js';
import { ParticipantsRepository } from '../src/messaging/participants.repository.js';
import { openPostgres, type DatabaseHandle } from '../src/persistence/database.js';
import { freshPglite } from './support/server.js';
import { createTestDatabase, hasPostgres } from './support/services.js';

interface Driver {
  name: string;
  open: () => Promise<{ db: DatabaseHandle; drop: () => Promise<void> }>;
}

const drivers: Driver[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await freshPglite();
      return { db, drop: () => db.close() };
    },
  },
  ...(hasPostgres()
    ? [
        {
          name: 'PostgreSQL',
          open: async () => {
            const t = await createTestDatabase('msgrepo');
            const db = await openPostgres(t.url);
            return {
              db,
              drop: async () => {
                await db.close();
                await t.drop();
              },
            };
          },
        },
      ]
    : []),
];

describe.each(drivers)('messaging repositories on $name', ({ open }) => {
  let handle: { db: DatabaseHandle; drop: () => Promise<void> };
  let conversations: ConversationsRepository;
  let participants: ParticipantsRepository;
  let messages: MessagesRepository;
  let writer: MessageWriter;
  beforeAll(async () => {
    handle = await open();
    conversations = new ConversationsRepository(handle.db);
    participants = new ParticipantsRepository(handle.db);
    messages = new MessagesRepository(handle.db);
    writer = new MessageWriter(handle.db, messages);
  });
  afterAll(() => handle.drop());

  const newConversation = async (users = ['u1', 'u2', 'u3']) => {
    const id = randomUUID();
    await handle.db.db.transaction(async (tx) => {
      expect(
        await conversations.insertIfAbsent(
          { id, organizationId: 'o1', title: 't', createdBy: users[0] },
          tx,
        ),
      ).toBe(true);
      await participants.insertMany(id, 'o1', users, tx);
    });
    return id;
  };
  const msg = (conversationId: string, senderId = 'u1', content = 'hi'): NewMessage => ({
    id: randomUUID(),
    conversationId,
    senderId,
    organizationId: 'o1',
    content,
    metadata: { n: 1 },
  });

  it('creates once; reads back participants sorted; insertIfAbsent is false on a repeat', async () => {
    const id = await newConversation(['zed', 'amy']);
    const rec = await conversations.findById(id);
    expect(rec).toMatchObject({
      id,
      organizationId: 'o1',
      title: 't',
      createdBy: 'zed',
      lastSeq: 0,
      participantIds: ['amy', 'zed'],
    });
    expect(
      await handle.db.db.transaction((tx) =>
        conversations.insertIfAbsent({ id, organizationId: 'o2', title: null, createdBy: 'x' }, tx),
      ),
    ).toBe(false);
    expect(await conversations.findById(randomUUID())).toBeUndefined();
  });

  it('a batch over several conversations allocates gapless seqs per conversation and moves the senders’ cursors', async () => {
    const c1 = await newConversation();
    const c2 = await newConversation();
    const batch = [msg(c1, 'u1'), msg(c2, 'u2'), msg(c1, 'u2'), msg(c1, 'u1'), msg(c2, 'u3')];
    const stored = await messages.insertBatch(batch);
    expect(stored.map((m) => [m.conversationId === c1 ? 'c1' : 'c2', m.seq])).toEqual([
      ['c1', 1],
      ['c2', 1],
      ['c1', 2],
      ['c1', 3],
      ['c2', 2],
    ]);
    expect(stored[0]).toMatchObject({
      content: 'hi',
      metadata: { n: 1 },
      type: 'text',
      editedAt: null,
      deletedAt: null,
    });
    expect(await conversations.lastSeq(c1)).toBe(3);
    expect(await participants.cursors(c1, 'u1')).toEqual({ deliveredSeq: 3, readSeq: 3 });
    expect(await participants.cursors(c1, 'u2')).toEqual({ deliveredSeq: 2, readSeq: 2 });
    expect(await participants.cursors(c1, 'u3')).toEqual({ deliveredSeq: 0, readSeq: 0 });
  });

  it('a repeated id fails the whole statement and leaves no gap', async () => {
    const c = await newConversation();
    const first = msg(c);
    await messages.insertBatch([first]);
    await expect(messages.insertBatch([msg(c), { ...first }])).rejects.toThrow();
    expect(await conversations.lastSeq(c)).toBe(1);
    const [next] = await messages.insertBatch([msg(c)]);
    expect(next.seq).toBe(2);
  });

  it('the writer groups concurrent writes, answers duplicates individually, seqs 1..n', async () => {
    const c = await newConversation();
    const dup = msg(c);
    const inputs = [
      ...Array.from({ length: 60 }, () => msg(c)),
      dup,
      { ...dup },
      ...Array.from({ length: 39 }, () => msg(c)),
    ];
    const outcomes = await Promise.all(inputs.map((i) => writer.write(i)));
    const stored = outcomes.flatMap((o) => ('stored' in o ? [o.stored] : []));
    expect(outcomes.filter((o) => 'duplicate' in o)).toHaveLength(1);
    expect(stored.map((m) => m.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it('the writer keeps each conversation in arrival order across concurrent statements', async () => {
    const convs = await Promise.all([newConversation(), newConversation(), newConversation()]);
    // Three waves, so later sends find earlier statements still running.
    const outcomes: Promise<WriteOutcome>[] = [];
    const sent: NewMessage[] = [];
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < 90; i++) {
        const m = msg(convs[i % 3], `u${(i % 3) + 1}`);
        sent.push(m);
        outcomes.push(writer.write(m));
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    const stored = (await Promise.all(outcomes)).map((o) => ('stored' in o ? o.stored : null));
    for (const c of convs) {
      const seqs = stored.filter((m) => m?.conversationId === c).map((m) => m!.seq);
      // Submission order within a conversation is seq order: 1..90 in the order they were sent.
      expect(seqs).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
      expect(await conversations.lastSeq(c)).toBe(90);
    }
    expect(stored.map((m) => m?.id)).toEqual(sent.map((m) => m.id));
  });

  it('pages: after (oldest first, hasMore newer), before (newest below, hasMore older)', async () => {
    const c = await newConversation();
    for (let i = 0; i < 5; i++) await messages.insertBatch([msg(c, 'u1', `m${i}`)]);
    expect(
      await messages.after(c, 1, 2).then((p) => [p.messages.map((m) => m.seq), p.hasMore]),
    ).toEqual([[2, 3], true]);
    expect(
      await messages.after(c, 3, 2).then((p) => [p.messages.map((m) => m.seq), p.hasMore]),
    ).toEqual([[4, 5], false]);
    expect(
      await messages.before(c, undefined, 2).then((p) => [p.messages.map((m) => m.seq), p.hasMore]),
    ).toEqual([[4, 5], true]);
    expect(
      await messages.before(c, 3, 5).then((p) => [p.messages.map((m) => m.seq), p.hasMore]),
    ).toEqual([[1, 2], false]);
  });

  it('edit and soft delete; deleted rows are erased in storage and cannot be edited', async () => {
    const c = await newConversation();
    const [m] = await messages.insertBatch([msg(c, 'u1', 'secret')]);
    const edited = await messages.editContent(m.id, 'changed');
    expect(edited).toMatchObject({ content: 'changed', seq: 1 });
    expect(edited?.editedAt).not.toBeNull();
    const deleted = await messages.softDelete(m.id);
    expect(deleted).toMatchObject({ content: '', metadata: {} });
    expect(deleted?.deletedAt).not.toBeNull();
    expect(await messages.softDelete(m.id)).toBeUndefined();
    expect(await messages.editContent(m.id, 'again')).toBeUndefined();
    expect(await messages.findById(m.id)).toMatchObject({
      content: '',
      metadata: {},
      deletedAt: deleted?.deletedAt,
    });
  });

  it('cursors: advance only upwards, read moves delivered too, unknown or foreign message → undefined', async () => {
    const c = await newConversation();
    const other = await newConversation();
    const [m1, m2] = await messages.insertBatch([msg(c), msg(c)]);
    const [x] = await messages.insertBatch([msg(other)]);
    expect(await participants.advance(c, 'u2', m2.id, 'delivered')).toEqual({
      seq: 2,
      senderId: 'u1',
      moved: true,
    });
    expect(await participants.advance(c, 'u2', m1.id, 'delivered')).toEqual({
      seq: 1,
      senderId: 'u1',
      moved: false,
    });
    expect(await participants.advance(c, 'u3', m2.id, 'read')).toEqual({
      seq: 2,
      senderId: 'u1',
      moved: true,
    });
    expect(await participants.cursors(c, 'u3')).toEqual({ deliveredSeq: 2, readSeq: 2 });
    expect(await participants.advance(c, 'u3', m1.id, 'read')).toMatchObject({ moved: false });
    expect(await participants.advance(c, 'u2', x.id, 'delivered')).toBeUndefined();
    expect(await participants.advance(c, 'u2', randomUUID(), 'read')).toBeUndefined();
  });

  it('replay queries: lagging conversations and the messages above each cursor in one query', async () => {
    const c1 = await newConversation(['a1', 'r1']);
    const c2 = await newConversation(['a1', 'r1']);
    await messages.insertBatch([msg(c1, 'a1'), msg(c1, 'a1'), msg(c2, 'a1'), msg(c1, 'a1')]);
    const lag = await participants.lagging('r1', 'o1');
    expect(lag.sort((a, b) => a.lastSeq - b.lastSeq)).toEqual([
      { conversationId: c2, deliveredSeq: 0, lastSeq: 1 },
      { conversationId: c1, deliveredSeq: 0, lastSeq: 3 },
    ]);
    expect(await participants.lagging('a1', 'o1')).toEqual([]);
    expect(await participants.lagging('r1', 'other-org')).toEqual([]);
    const found = await messages.above([
      { conversationId: c1, afterSeq: 1 },
      { conversationId: c2, afterSeq: 0 },
    ]);
    expect(found.map((m) => [m.conversationId === c1 ? 'c1' : 'c2', m.seq]).sort()).toEqual([
      ['c1', 2],
      ['c1', 3],
      ['c2', 1],
    ]);
  });
});
