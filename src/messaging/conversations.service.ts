import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { TransactionRunner } from '../persistence/transaction-runner.js';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import { AppError } from '../protocol/errors.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import type { Session } from '../gateway/publisher/session.js';
import { rooms } from '../protocol/rooms.js';
import { ConversationCache, toConversation, type Caller } from './conversation-cache.js';
import { ConversationsRepository, type ListPosition } from './conversations.repository.js';
import { MessagesRepository } from './messages.repository.js';
import { ParticipantsRepository } from './participants.repository.js';

const LIST_CURSOR = /^(\d{1,20}):([A-Za-z0-9_-]{1,64})$/;

/** `nextCursor` of `conversation:list`: opaque to clients (base64url of "activityµs:id"). */
export function encodeListCursor(p: ListPosition): string {
  return Buffer.from(`${p.activityUs}:${p.id}`, 'utf8').toString('base64url');
}

export function decodeListCursor(cursor: string): ListPosition | undefined {
  const m = LIST_CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { activityUs: m[1], id: m[2] } : undefined;
}

const DEFAULT_PAGE = 50;

/**
 * `conversation:create`, `list`, `join`, `history`, `leave` (§5, §12.6): who may see which
 * conversation and its pages. Deliveries go through the RealtimePublisher; room membership is
 * the gateway's.
 */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly conversations: ConversationsRepository,
    private readonly participants: ParticipantsRepository,
    private readonly messages: MessagesRepository,
    private readonly cache: ConversationCache,
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('messaging') private readonly logger: PinoLogger,
  ) {}

  async create(
    caller: Caller,
    input: ClientPayload<'conversation:create'>,
  ): Promise<ClientAckData<'conversation:create'>> {
    const id = input.conversationId ?? randomUUID();
    const participantIds = [...new Set([caller.userId, ...input.participantIds])].sort();
    const created = await this.transactions.run(async (tx) => {
      const inserted = await this.conversations.insertIfAbsent(
        {
          id,
          organizationId: caller.organizationId,
          title: input.title ?? null,
          createdBy: caller.userId,
        },
        tx,
      );
      if (inserted)
        await this.participants.insertMany(id, caller.organizationId, participantIds, tx);
      return inserted;
    }, 'conversation-create');
    const record = await this.conversations.findById(id);
    if (!record) throw AppError.unavailable();
    if (
      !created &&
      (record.organizationId !== caller.organizationId || record.createdBy !== caller.userId)
    ) {
      throw AppError.conflict('conversationId already in use');
    }
    const meta = this.cache.remember(record);
    const conversation = toConversation(meta, record.lastSeq);
    if (created) {
      this.publisher.toConversation(
        id,
        meta.participantIds,
        'conversation:new',
        { conversation },
        { organizationId: meta.organizationId },
      );
      this.logger.debug(
        {
          conversationId: id,
          organizationId: caller.organizationId,
          participants: meta.participantIds.length,
        },
        'conversation created',
      );
    }
    return { conversation };
  }

  /** `conversation:list` (§12.6): the caller's conversations, most recent activity first. */
  async list(
    caller: Caller,
    input: ClientPayload<'conversation:list'>,
  ): Promise<ClientAckData<'conversation:list'>> {
    let after: ListPosition | undefined;
    if (input?.before !== undefined) {
      after = decodeListCursor(input.before);
      if (!after)
        throw AppError.validation(
          [{ field: 'before', constraints: ['isListCursor'] }],
          'before is not a cursor returned by conversation:list',
        );
    }
    const limit = input?.limit ?? DEFAULT_PAGE;
    const page = await this.conversations.listForUser(
      caller.userId,
      caller.organizationId,
      after,
      limit,
    );
    const conversations = page.items.map((item) => {
      const meta = this.cache.remember(item.record);
      return {
        conversation: toConversation(meta, item.record.lastSeq),
        lastMessage: item.lastMessage,
        unreadCount: Math.max(0, item.record.lastSeq - item.readSeq),
        deliveredSeq: item.deliveredSeq,
        readSeq: item.readSeq,
      };
    });
    const last = page.items.at(-1);
    return {
      conversations,
      nextCursor: page.hasMore && last ? encodeListCursor(last.position) : null,
    };
  }

  /**
   * `conversation:join`: the session joins the conversation's room, then reads the page. Join
   * first, read after: a message stored in between is both in the page and live, never in neither.
   */
  async join(
    session: Session,
    input: ClientPayload<'conversation:join'>,
  ): Promise<ClientAckData<'conversation:join'>> {
    const meta = await this.cache.access(session.user, input.conversationId);
    await this.publisher.join(session, rooms.conversation(meta.id));
    const limit = input.limit ?? DEFAULT_PAGE;
    const [lastSeq, page] = await Promise.all([
      this.conversations.lastSeq(meta.id),
      input.afterSeq !== undefined
        ? this.messages.after(meta.id, input.afterSeq, limit)
        : this.messages.before(meta.id, undefined, limit),
    ]);
    const seq = Math.max(lastSeq ?? 0, page.messages.at(-1)?.seq ?? 0);
    return {
      conversation: toConversation(meta, seq),
      messages: page.messages,
      hasMore: page.hasMore,
      lastSeq: seq,
    };
  }

  async history(
    caller: Caller,
    input: ClientPayload<'conversation:history'>,
  ): Promise<ClientAckData<'conversation:history'>> {
    const meta = await this.cache.access(caller, input.conversationId);
    return this.messages.before(meta.id, input.beforeSeq, input.limit ?? DEFAULT_PAGE);
  }

  /** `conversation:leave`: the session leaves the room (live messages stop; the history stays). */
  async leave(
    session: Session,
    input: ClientPayload<'conversation:leave'>,
  ): Promise<ClientAckData<'conversation:leave'>> {
    const meta = await this.cache.access(session.user, input.conversationId);
    await this.publisher.leave(session, rooms.conversation(meta.id));
    return { conversationId: input.conversationId };
  }
}
