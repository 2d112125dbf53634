import { DependencyLog } from '../observability/dependency-log.js';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService, type AuditRecord } from '../audit/audit.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { REPLAY_LIMIT } from '../protocol/constants.js';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import { AppError } from '../protocol/errors.js';
import type { AuthenticatedUser, Conversation, Message } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import {
  ConversationsRepository,
  type ConversationRecord,
  type ListPosition,
} from './conversations.repository.js';
import { errorFields } from '../observability/error-fields.js';
import { ByteBudgetCache, stringBytes } from './byte-budget-cache.js';
import { MessageWriter } from './message-writer.js';
import { MessagesRepository } from './messages.repository.js';
import { ParticipantsRepository } from './participants.repository.js';

/** The static part of a conversation, cached: participants only change at creation (§5). */
interface ConversationMeta {
  id: string;
  organizationId: string;
  title: string | null;
  createdBy: string;
  createdAt: string;
  participantIds: string[];
  participants: Set<string>;
}

/** One step of the connect-time replay (§4 step 4), in the order it is sent. */
export type ReplayItem =
  | { kind: 'message'; message: Message }
  | { kind: 'sync-required'; conversationId: string; deliveredSeq: number; lastSeq: number };

type Caller = Pick<AuthenticatedUser, 'userId' | 'organizationId' | 'role'>;

/**
 * Default bytes of conversation metadata a node keeps (CONVERSATION_CACHE_BYTES; §12.3: a flood of large conversations raises the
 * heap by at most 64 MiB; this cache is the one that grows with them).
 */
export const CONVERSATION_CACHE_BYTES = 32 * 1024 * 1024;

/** An over-estimate of a cached conversation's heap bytes: its strings, the array and the Set. */
function metaBytes(m: ConversationMeta): number {
  let n = 400 + stringBytes(m.id) + stringBytes(m.organizationId) + stringBytes(m.title);
  n += stringBytes(m.createdBy) + stringBytes(m.createdAt);
  // Each participant: its string, a slot in the array and an entry of the Set.
  for (const id of m.participantIds) n += stringBytes(id) + 8 + 32;
  return n;
}

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
 * Conversations, messages and receipts: every rule of §5/§6/§11 for them. Never touches a socket:
 * deliveries go through the RealtimePublisher, the gateway does room membership.
 */
@Injectable()
export class MessagingService {
  private readonly cache: ByteBudgetCache<string, ConversationMeta>;
  /** Sends in flight per sender+messageId: a concurrent repeat waits for the first instead of racing it. */
  private readonly inFlight = new Map<string, Promise<{ message: Message; created: boolean }>>();

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly conversations: ConversationsRepository,
    private readonly participants: ParticipantsRepository,
    private readonly messages: MessagesRepository,
    private readonly writer: MessageWriter,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('messaging') private readonly logger: PinoLogger,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
    // Optional so that code building the service by hand (specs) needs no change.
    @Optional() private readonly dependencyLog?: DependencyLog,
  ) {
    this.cache = new ByteBudgetCache(
      config?.conversationCacheBytes ?? CONVERSATION_CACHE_BYTES,
      metaBytes,
    );
  }

  // ---- conversations -------------------------------------------------------------------------

  async create(
    caller: Caller,
    input: ClientPayload<'conversation:create'>,
  ): Promise<ClientAckData<'conversation:create'>> {
    const id = input.conversationId ?? randomUUID();
    const participantIds = [...new Set([caller.userId, ...input.participantIds])].sort();
    const created = await this.storage(() =>
      this.database.db.transaction(async (tx) => {
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
      }),
    );
    const record = await this.storage(() => this.conversations.findById(id));
    if (!record) throw AppError.unavailable();
    if (
      !created &&
      (record.organizationId !== caller.organizationId || record.createdBy !== caller.userId)
    ) {
      throw AppError.conflict('conversationId already in use');
    }
    const meta = this.remember(record);
    const conversation = this.toConversation(meta, record.lastSeq);
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
    const page = await this.storage(() =>
      this.conversations.listForUser(caller.userId, caller.organizationId, after, limit),
    );
    const conversations = page.items.map((item) => {
      const meta = this.remember(item.record);
      return {
        conversation: this.toConversation(meta, item.record.lastSeq),
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

  /** Access check of `conversation:join`; the gateway joins the room, then calls `joinPage`. */
  async join(
    caller: Caller,
    input: ClientPayload<'conversation:join'>,
  ): Promise<ClientAckData<'conversation:join'>> {
    const meta = await this.access(caller, input.conversationId);
    const limit = input.limit ?? DEFAULT_PAGE;
    const [lastSeq, page] = await this.storage(() =>
      Promise.all([
        this.conversations.lastSeq(meta.id),
        input.afterSeq !== undefined
          ? this.messages.after(meta.id, input.afterSeq, limit)
          : this.messages.before(meta.id, undefined, limit),
      ]),
    );
    const seq = Math.max(lastSeq ?? 0, page.messages.at(-1)?.seq ?? 0);
    return {
      conversation: this.toConversation(meta, seq),
      messages: page.messages,
      hasMore: page.hasMore,
      lastSeq: seq,
    };
  }

  async history(
    caller: Caller,
    input: ClientPayload<'conversation:history'>,
  ): Promise<ClientAckData<'conversation:history'>> {
    const meta = await this.access(caller, input.conversationId);
    return this.storage(() =>
      this.messages.before(meta.id, input.beforeSeq, input.limit ?? DEFAULT_PAGE),
    );
  }

  /** `conversation:leave` checks access like the other events; the gateway leaves the room. */
  async checkAccess(caller: Caller, conversationId: string): Promise<void> {
    await this.access(caller, conversationId);
  }

  // ---- messages ------------------------------------------------------------------------------

  async send(
    caller: Caller,
    input: ClientPayload<'message:send'>,
  ): Promise<ClientAckData<'message:send'>> {
    const meta = await this.access(caller, input.conversationId);
    const key = `${caller.userId}\u0000${input.messageId}`;
    const running = this.inFlight.get(key);
    if (running) {
      const first = await running;
      return { message: this.sameOrConflict(first.message, caller, meta.id) };
    }
    const attempt = this.store(caller, meta, input);
    this.inFlight.set(key, attempt);
    try {
      const { message, created } = await attempt;
      if (created)
        this.publisher.toConversation(
          meta.id,
          meta.participantIds,
          'message:new',
          { message },
          { organizationId: meta.organizationId },
        );
      return { message };
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async store(
    caller: Caller,
    meta: ConversationMeta,
    input: ClientPayload<'message:send'>,
  ): Promise<{ message: Message; created: boolean }> {
    const outcome = await this.storage(() =>
      this.writer.write({
        id: input.messageId,
        conversationId: meta.id,
        senderId: caller.userId,
        organizationId: caller.organizationId,
        content: input.content,
        metadata: input.metadata ?? {},
      }),
    );
    if ('stored' in outcome) {
      this.metrics.messagesStored.inc();
      return { message: outcome.stored, created: true };
    }
    const existing = await this.storage(() => this.messages.findById(input.messageId));
    if (!existing) throw AppError.unavailable();
    return { message: this.sameOrConflict(existing, caller, meta.id), created: false };
  }

  /** A repeated messageId: the stored message when it is the same sender and conversation (§5, §11). */
  private sameOrConflict(existing: Message, caller: Caller, conversationId: string): Message {
    if (
      existing.senderId !== caller.userId ||
      existing.conversationId !== conversationId ||
      existing.organizationId !== caller.organizationId
    ) {
      throw AppError.conflict('messageId already in use');
    }
    return existing;
  }

  async edit(
    caller: Caller,
    input: ClientPayload<'message:edit'>,
    requestId?: string,
  ): Promise<ClientAckData<'message:edit'>> {
    const audit = (outcome: AuditRecord['outcome'], reason?: string, conversationId?: string) =>
      this.auditQuietly({
        actorId: caller.userId,
        organizationId: caller.organizationId,
        action: 'message.edit',
        resourceType: 'message',
        resourceId: input.messageId,
        outcome,
        ...(requestId ? { requestId } : {}),
        details: { ...(conversationId ? { conversationId } : {}), ...(reason ? { reason } : {}) },
      });
    const existing = await this.storage(() => this.messages.findById(input.messageId));
    if (!existing || existing.organizationId !== caller.organizationId)
      throw AppError.notFound('Message');
    if (existing.deletedAt) {
      await audit('failure', 'deleted', existing.conversationId);
      throw AppError.notFound('Message');
    }
    if (existing.senderId !== caller.userId) {
      await audit('denied', 'not-sender', existing.conversationId);
      throw AppError.forbidden('Only the sender may edit a message');
    }
    const meta = await this.meta(existing.conversationId);
    const message = await this.storage(() =>
      this.database.db.transaction(async (tx) => {
        const updated = await this.messages.editContent(input.messageId, input.content, tx);
        if (updated) {
          await this.audit.record(
            {
              actorId: caller.userId,
              organizationId: caller.organizationId,
              action: 'message.edit',
              resourceType: 'message',
              resourceId: input.messageId,
              outcome: 'success',
              ...(requestId ? { requestId } : {}),
              details: { conversationId: existing.conversationId, seq: updated.seq },
            },
            tx,
          );
        }
        return updated;
      }),
    );
    if (!message) {
      await audit('failure', 'deleted', existing.conversationId);
      throw AppError.notFound('Message');
    }
    if (meta)
      this.publisher.toConversation(
        meta.id,
        meta.participantIds,
        'message:edited',
        { message },
        { organizationId: meta.organizationId },
      );
    return { message };
  }

  async delete(
    caller: Caller,
    input: ClientPayload<'message:delete'>,
    requestId?: string,
  ): Promise<ClientAckData<'message:delete'>> {
    const existing = await this.storage(() => this.messages.findById(input.messageId));
    if (!existing || existing.organizationId !== caller.organizationId)
      throw AppError.notFound('Message');
    const byAdmin = existing.senderId !== caller.userId;
    const base = {
      actorId: caller.userId,
      organizationId: caller.organizationId,
      action: 'message.delete',
      resourceType: 'message',
      resourceId: input.messageId,
      ...(requestId ? { requestId } : {}),
    } as const;
    if (byAdmin && caller.role !== 'admin') {
      await this.auditQuietly({
        ...base,
        outcome: 'denied',
        details: { conversationId: existing.conversationId, reason: 'not-sender' },
      });
      throw AppError.forbidden('Only the sender or an admin may delete a message');
    }
    // Deleting twice answers the first deletion and emits nothing new.
    if (existing.deletedAt) return { messageId: existing.id, deletedAt: existing.deletedAt };
    const deleted = await this.storage(() =>
      this.database.db.transaction(async (tx) => {
        const row = await this.messages.softDelete(input.messageId, tx);
        if (row) {
          await this.audit.record(
            {
              ...base,
              outcome: 'success',
              details: { conversationId: existing.conversationId, seq: row.seq, byAdmin },
            },
            tx,
          );
        }
        return row;
      }),
    );
    if (!deleted) {
      const again = await this.storage(() => this.messages.findById(input.messageId));
      return {
        messageId: input.messageId,
        deletedAt: again?.deletedAt ?? new Date().toISOString(),
      };
    }
    const deletedAt = deleted.deletedAt!;
    const meta = await this.meta(existing.conversationId);
    if (meta) {
      this.publisher.toConversation(
        meta.id,
        meta.participantIds,
        'message:deleted',
        { messageId: deleted.id, conversationId: meta.id, deletedAt },
        { organizationId: meta.organizationId },
      );
    }
    return { messageId: deleted.id, deletedAt };
  }

  async delivered(
    caller: Caller,
    input: ClientPayload<'message:delivered'>,
  ): Promise<ClientAckData<'message:delivered'>> {
    const meta = await this.access(caller, input.conversationId);
    const move = await this.storage(() =>
      this.participants.advance(meta.id, caller.userId, input.messageId, 'delivered'),
    );
    if (!move) throw AppError.notFound('Message');
    const deliveredAt = new Date().toISOString();
    if (move.moved) {
      this.publisher.toRooms(
        [rooms.conversation(meta.id), rooms.member(meta.organizationId, move.senderId)],
        'message:delivered',
        {
          conversationId: meta.id,
          messageId: input.messageId,
          userId: caller.userId,
          deliveredAt,
        },
      );
    }
    return { conversationId: meta.id, messageId: input.messageId, deliveredAt };
  }

  async read(
    caller: Caller,
    input: ClientPayload<'message:read'>,
  ): Promise<ClientAckData<'message:read'>> {
    const meta = await this.access(caller, input.conversationId);
    const move = await this.storage(() =>
      this.participants.advance(meta.id, caller.userId, input.messageId, 'read'),
    );
    if (!move) throw AppError.notFound('Message');
    const readAt = new Date().toISOString();
    if (move.moved) {
      this.publisher.toConversation(
        meta.id,
        meta.participantIds,
        'message:read',
        { conversationId: meta.id, messageId: input.messageId, userId: caller.userId, readAt },
        { organizationId: meta.organizationId },
      );
    }
    return { conversationId: meta.id, messageId: input.messageId, readAt };
  }

  /** Typing goes to the conversation room except the typing socket, volatile (§6). */
  async typing(
    caller: Caller,
    input: ClientPayload<'message:typing'>,
    exceptSocketId: string,
  ): Promise<ClientAckData<'message:typing'>> {
    const meta = await this.access(caller, input.conversationId);
    this.publisher.toRooms(
      [rooms.conversation(meta.id)],
      'message:typing',
      { conversationId: meta.id, userId: caller.userId, isTyping: input.isTyping },
      { except: [exceptSocketId], volatile: true },
    );
    return {};
  }

  // ---- replay (§4 step 4) ------------------------------------------------------------------

  /**
   * What the user missed: for each conversation above the delivered cursor, its messages oldest
   * first, or `sync-required` when more than REPLAY_LIMIT are missing. Two queries in all.
   */
  async replayFor(user: Caller): Promise<ReplayItem[]> {
    const lagging = await this.participants.lagging(user.userId, user.organizationId);
    if (lagging.length === 0) return [];
    const small = lagging.filter((l) => l.lastSeq - l.deliveredSeq <= REPLAY_LIMIT);
    const found = await this.messages.above(
      small.map((l) => ({ conversationId: l.conversationId, afterSeq: l.deliveredSeq })),
    );
    const groups = new Map<string, Message[]>();
    for (const m of found) {
      const g = groups.get(m.conversationId);
      if (g) g.push(m);
      else groups.set(m.conversationId, [m]);
    }
    // Oldest first across conversations: each conversation's run of messages, ordered by its first one.
    const runs = [...groups.values()].sort(
      (a, b) =>
        a[0].createdAt.localeCompare(b[0].createdAt) ||
        a[0].conversationId.localeCompare(b[0].conversationId),
    );
    const items: ReplayItem[] = lagging
      .filter((l) => l.lastSeq - l.deliveredSeq > REPLAY_LIMIT)
      .map((l) => ({
        kind: 'sync-required',
        conversationId: l.conversationId,
        deliveredSeq: l.deliveredSeq,
        lastSeq: l.lastSeq,
      }));
    for (const run of runs) for (const message of run) items.push({ kind: 'message', message });
    return items;
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * The conversation if the caller may use it: another organization's (or an unknown) id is
   * RESOURCE_NOT_FOUND, a non-participant of the caller's organization AUTHORIZATION_FAILED.
   */
  private async access(caller: Caller, conversationId: string): Promise<ConversationMeta> {
    const meta = await this.meta(conversationId);
    if (!meta || meta.organizationId !== caller.organizationId)
      throw AppError.notFound('Conversation');
    if (!meta.participants.has(caller.userId))
      throw AppError.forbidden('Not a participant of this conversation');
    return meta;
  }

  private async meta(conversationId: string): Promise<ConversationMeta | undefined> {
    const hit = this.cache.get(conversationId);
    if (hit) return hit;
    const record = await this.storage(() => this.conversations.findById(conversationId));
    return record ? this.remember(record) : undefined;
  }

  private remember(record: ConversationRecord): ConversationMeta {
    const existing = this.cache.get(record.id);
    if (existing) return existing;
    const meta: ConversationMeta = {
      id: record.id,
      organizationId: record.organizationId,
      title: record.title,
      createdBy: record.createdBy,
      createdAt: record.createdAt,
      participantIds: record.participantIds,
      participants: new Set(record.participantIds),
    };
    // Bounded by bytes: the oldest entries go (they are reloaded on demand).
    this.cache.set(record.id, meta);
    this.metrics.conversationCacheBytes.set(this.cache.bytes);
    return meta;
  }

  private toConversation(meta: ConversationMeta, lastSeq: number): Conversation {
    return {
      id: meta.id,
      organizationId: meta.organizationId,
      title: meta.title,
      participantIds: [...meta.participantIds],
      createdBy: meta.createdBy,
      createdAt: meta.createdAt,
      lastSeq,
    };
  }

  /** A database failure: at most one line per operation per 5 s (DependencyLog), by class and SQLSTATE only. */
  private logFailure(operation: string, err: unknown, extra: Record<string, unknown> = {}): void {
    const fields = { ...errorFields(err), ...extra };
    if (this.dependencyLog) this.dependencyLog.failed('database', operation, err, fields);
    else this.logger.error(fields, `${operation} failed`);
  }

  /** Runs a storage call; a driver failure becomes SERVICE_UNAVAILABLE (logged by class and SQLSTATE only). */
  private async storage<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.logFailure('storage', err);
      throw AppError.unavailable('Storage unavailable');
    }
  }

  /** Refusals are audited before the refusal is answered; a failing audit write does not change the answer. */
  private async auditQuietly(r: AuditRecord): Promise<void> {
    try {
      await this.audit.record(r);
    } catch (err) {
      this.logFailure('audit-write', err, { action: r.action });
    }
  }
}
