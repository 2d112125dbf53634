import { Injectable, Optional } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService, type AuditRecord } from '../audit/audit.service.js';
import { DependencyLog } from '../observability/dependency-log.js';
import { errorFields } from '../observability/error-fields.js';
import { MetricsService } from '../observability/metrics.service.js';
import { TransactionRunner } from '../persistence/transaction-runner.js';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import { AppError } from '../protocol/errors.js';
import type { Message } from '../protocol/models.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { ConversationCache, type Caller, type ConversationMeta } from './conversation-cache.js';
import { MessageWriter } from './message-writer.js';
import { MessagesRepository } from './messages.repository.js';

/**
 * `message:send`, `message:edit`, `message:delete` (§5, §11): idempotency by messageId, who may
 * change what, the audit of edits and deletions. Deliveries go through the RealtimePublisher,
 * after the commit.
 */
@Injectable()
export class MessagesService {
  /** Sends in flight per sender+messageId: a concurrent repeat waits for the first instead of racing it. */
  private readonly inFlight = new Map<string, Promise<{ message: Message; created: boolean }>>();

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly messages: MessagesRepository,
    private readonly writer: MessageWriter,
    private readonly cache: ConversationCache,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('messaging') private readonly logger: PinoLogger,
    // Optional so that code building the service by hand (specs) needs no change.
    @Optional() private readonly dependencyLog?: DependencyLog,
  ) {}

  async send(
    caller: Caller,
    input: ClientPayload<'message:send'>,
  ): Promise<ClientAckData<'message:send'>> {
    const meta = await this.cache.access(caller, input.conversationId);
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
    const outcome = await this.writer.write({
      id: input.messageId,
      conversationId: meta.id,
      senderId: caller.userId,
      organizationId: caller.organizationId,
      content: input.content,
      metadata: input.metadata ?? {},
    });
    if ('stored' in outcome) {
      this.metrics.messagesStored.inc();
      return { message: outcome.stored, created: true };
    }
    const existing = await this.messages.findById(input.messageId);
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
    const existing = await this.messages.findById(input.messageId);
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
    const meta = await this.cache.get(existing.conversationId);
    const message = await this.transactions.run(async (tx) => {
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
    }, 'message-edit');
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
    const existing = await this.messages.findById(input.messageId);
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
    const deleted = await this.transactions.run(async (tx) => {
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
    }, 'message-delete');
    if (!deleted) {
      const again = await this.messages.findById(input.messageId);
      return {
        messageId: input.messageId,
        deletedAt: again?.deletedAt ?? new Date().toISOString(),
      };
    }
    const deletedAt = deleted.deletedAt!;
    const meta = await this.cache.get(existing.conversationId);
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

  /** Refusals are audited before the refusal is answered; a failing audit write does not change the answer. */
  private async auditQuietly(r: AuditRecord): Promise<void> {
    try {
      await this.audit.record(r);
    } catch (err) {
      // At most one line per 5 s (DependencyLog), by class and SQLSTATE only.
      const fields = { ...errorFields(err), action: r.action };
      if (this.dependencyLog) this.dependencyLog.failed('database', 'audit-write', err, fields);
      else this.logger.error(fields, 'audit-write failed');
    }
  }
}
