import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PinoLogger } from 'nestjs-pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditRepository } from '../audit/audit.repository.js';
import { AuditService } from '../audit/audit.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { openPglite, type DatabaseHandle } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { TransactionRunner } from '../persistence/transaction-runner.js';
import { AppError } from '../protocol/errors.js';
import type { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { ConversationCache } from './conversation-cache.js';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';
import { MessageReplayService } from './message-replay.service.js';
import { MessageWriter } from './message-writer.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';
import { ParticipantsRepository } from './participants.repository.js';
import { ReceiptsService } from './receipts.service.js';
import { TypingService } from './typing.service.js';

/** A fresh migrated PGlite from the global setup's template (a spec takes nothing from test/). */
const template = process.env.WCR_PGLITE_TEMPLATE;
const freshPglite = () =>
  openPglite(template ? { template: new Blob([readFileSync(template)]) } : {});

/** Records what the service asked to deliver, instead of emitting. */
class FakePublisher {
  calls: Array<{ method: string; args: unknown[] }> = [];
  toConversation(...args: unknown[]): void {
    this.calls.push({ method: 'toConversation', args });
  }
  toRooms(...args: unknown[]): void {
    this.calls.push({ method: 'toRooms', args });
  }
  events(): string[] {
    return this.calls.map((c) => String(c.method === 'toConversation' ? c.args[2] : c.args[1]));
  }
}

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
} as unknown as PinoLogger;

/** The messaging services wired by hand, as the module wires them, on a database of their own. */
function build(handle: DatabaseHandle, fake: FakePublisher) {
  const errors = new DatabaseErrors();
  const transactions = new TransactionRunner(handle, errors);
  const conversations = new ConversationsRepository(handle, errors);
  const participants = new ParticipantsRepository(handle, errors);
  const messages = new MessagesRepository(handle, errors);
  const metrics = new MetricsService();
  const cache = new ConversationCache(conversations, metrics);
  const publisher = fake as unknown as RealtimePublisher;
  return {
    conversations: new ConversationsService(
      transactions,
      conversations,
      participants,
      messages,
      cache,
      publisher,
      silent,
    ),
    messages: new MessagesService(
      transactions,
      messages,
      new MessageWriter(handle, messages, errors),
      cache,
      publisher,
      new AuditService(new AuditRepository(handle, errors)),
      metrics,
      silent,
    ),
    receipts: new ReceiptsService(participants, cache, publisher),
    typing: new TypingService(cache, publisher),
    replay: new MessageReplayService(participants, messages),
  };
}

describe('messaging services (fake publisher, real PGlite)', () => {
  let handle: DatabaseHandle;
  let publisher: FakePublisher;
  let sut: ReturnType<typeof build>;
  const alice = { userId: 'alice', organizationId: 'o1', role: 'staff' as const };
  const bob = { userId: 'bob', organizationId: 'o1', role: 'staff' as const };
  beforeAll(async () => {
    handle = await freshPglite();
    publisher = new FakePublisher();
    sut = build(handle, publisher);
  });
  afterAll(() => handle.close());

  it('send delivers message:new once to the participants, scoped to the organization; a repeat delivers nothing', async () => {
    const { conversation } = await sut.conversations.create(alice, { participantIds: ['bob'] });
    expect(publisher.calls.at(-1)?.args.slice(0, 3)).toEqual([
      conversation.id,
      ['alice', 'bob'],
      'conversation:new',
    ]);
    publisher.calls = [];
    const messageId = randomUUID();
    const { message } = await sut.messages.send(alice, {
      messageId,
      conversationId: conversation.id,
      content: 'x',
    });
    expect(publisher.calls).toEqual([
      {
        method: 'toConversation',
        args: [
          conversation.id,
          ['alice', 'bob'],
          'message:new',
          { message },
          { organizationId: 'o1' },
        ],
      },
    ]);
    await sut.messages.send(alice, { messageId, conversationId: conversation.id, content: 'x' });
    expect(publisher.calls).toHaveLength(1);
  });

  it('receipts only when a cursor moves; delivered goes to the room and the sender’s member room', async () => {
    const { conversation } = await sut.conversations.create(alice, { participantIds: ['bob'] });
    const { message } = await sut.messages.send(alice, {
      messageId: randomUUID(),
      conversationId: conversation.id,
      content: 'x',
    });
    publisher.calls = [];
    await sut.receipts.delivered(bob, { conversationId: conversation.id, messageId: message.id });
    expect(publisher.calls[0].args.slice(0, 2)).toEqual([
      [`conversation:${conversation.id}`, 'user:o1:alice'],
      'message:delivered',
    ]);
    await sut.receipts.delivered(bob, { conversationId: conversation.id, messageId: message.id });
    await sut.receipts.read(alice, { conversationId: conversation.id, messageId: message.id }); // sender's own cursor already there
    expect(publisher.events()).toEqual(['message:delivered']);
    await sut.receipts.read(bob, { conversationId: conversation.id, messageId: message.id });
    expect(publisher.events()).toEqual(['message:delivered', 'message:read']);
  });

  it('typing goes to the room except the typing socket, volatile', async () => {
    const { conversation } = await sut.conversations.create(alice, { participantIds: ['bob'] });
    publisher.calls = [];
    await sut.typing.typing(bob, { conversationId: conversation.id, isTyping: true }, 'sock-1');
    expect(publisher.calls).toEqual([
      {
        method: 'toRooms',
        args: [
          [`conversation:${conversation.id}`],
          'message:typing',
          { conversationId: conversation.id, userId: 'bob', isTyping: true },
          { except: ['sock-1'], volatile: true },
        ],
      },
    ]);
  });

  it('replay: messages oldest first per conversation; more than 100 missing → sync-required only', async () => {
    const carol = { userId: 'carol', organizationId: 'o1', role: 'nurse' as const };
    const small = (await sut.conversations.create(alice, { participantIds: ['carol'] }))
      .conversation;
    const big = (await sut.conversations.create(alice, { participantIds: ['carol'] })).conversation;
    for (let i = 0; i < 3; i++)
      await sut.messages.send(alice, {
        messageId: randomUUID(),
        conversationId: small.id,
        content: `s${i}`,
      });
    await Promise.all(
      Array.from({ length: 101 }, () =>
        sut.messages.send(alice, { messageId: randomUUID(), conversationId: big.id, content: 'b' }),
      ),
    );
    const items = await sut.replay.replayFor(carol);
    expect(items[0]).toEqual({
      kind: 'sync-required',
      conversationId: big.id,
      deliveredSeq: 0,
      lastSeq: 101,
    });
    expect(
      items
        .slice(1)
        .map((i) => (i.kind === 'message' ? [i.message.conversationId, i.message.seq] : i)),
    ).toEqual([
      [small.id, 1],
      [small.id, 2],
      [small.id, 3],
    ]);
    expect(await sut.replay.replayFor(alice)).toEqual([]);
  });

  it('a storage failure answers SERVICE_UNAVAILABLE and delivers nothing', async () => {
    const own = await freshPglite();
    const pub = new FakePublisher();
    const svc = build(own, pub);
    const { conversation } = await svc.conversations.create(alice, { participantIds: ['bob'] });
    pub.calls = [];
    await own.close();
    const err = await svc.messages
      .send(alice, { messageId: randomUUID(), conversationId: conversation.id, content: 'lost?' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).type).toBe('SERVICE_UNAVAILABLE');
    expect(pub.calls).toEqual([]);
    // A database of its own, migrated from scratch: seconds on a loaded machine.
  }, 60_000);

  it('a value the database refuses answers VALIDATION_ERROR storable, without the value', async () => {
    const { conversation } = await sut.conversations.create(alice, { participantIds: ['bob'] });
    const { message } = await sut.messages.send(alice, {
      messageId: randomUUID(),
      conversationId: conversation.id,
      content: 'before',
    });
    publisher.calls = [];
    // U+0000 cannot be stored in text (SQLSTATE 22P05 / 22021); validation is bypassed on purpose.
    const err = await sut.messages
      .edit(alice, { messageId: message.id, content: 'secret\u0000x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).type).toBe('VALIDATION_ERROR');
    expect((err as AppError).details).toEqual([{ field: '$', constraints: ['storable'] }]);
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain('secret');
    expect(publisher.calls).toEqual([]);
  });
});
