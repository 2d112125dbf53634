import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService, type AuditRecord } from '../audit/audit.service.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { MembersService } from '../members/members.service.js';
import { TransactionRunner } from '../persistence/transaction-runner.js';
import { NOTIFICATION_SYNC_LIMIT } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import type { AuthenticatedUser, Notification, Priority } from '../protocol/models.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { delivery, type Delivery } from '../gateway/publisher/session.js';
import type { NotificationCreateDto } from './notification.dto.js';
import {
  NotificationsRepository,
  type NewNotificationRow,
  type NotificationRow,
} from './notifications.repository.js';

export function toNotification(row: NotificationRow | NewNotificationRow): Notification {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    body: row.body ?? null,
    priority: (row.priority ?? 'normal') as Priority,
    data: row.data ?? {},
    createdAt: new Date(row.createdAt!).toISOString(),
    readAt: row.readAt ? new Date(row.readAt).toISOString() : null,
  };
}

/**
 * Notifications (§5, §6, §9): one row per recipient (explicit userIds ∪ members with the given
 * roles), stored before the 202, then `notification:new` to every session of each recipient;
 * `notification:read` for one's own; `notification:sync` on connect (hook 30, `/` only).
 */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly repository: NotificationsRepository,
    private readonly members: MembersService,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    @InjectPinoLogger('notifications') private readonly logger: PinoLogger,
    private readonly transactions: TransactionRunner,
  ) {}

  async send(
    principal: ApiPrincipal,
    dto: NotificationCreateDto,
    requestId?: string,
  ): Promise<{ ids: string[]; recipients: number }> {
    assertOrganizationAccess(principal, dto.organizationId);
    if ((dto.userIds?.length ?? 0) === 0 && (dto.roles?.length ?? 0) === 0) {
      throw AppError.validation(
        [{ field: 'userIds', constraints: ['userIdsOrRoles'] }],
        'userIds or roles must name a recipient',
      );
    }
    const recipients = await this.members.resolveRecipients(
      dto.organizationId,
      dto.userIds,
      dto.roles,
    );
    const createdAt = new Date();
    const rows: NewNotificationRow[] = recipients.map((userId) => ({
      id: randomUUID(),
      organizationId: dto.organizationId,
      userId,
      type: dto.type,
      title: dto.title,
      body: dto.body ?? null,
      priority: dto.priority ?? 'normal',
      data: dto.data ?? {},
      createdAt,
      readAt: null,
    }));
    const audits: AuditRecord[] = rows.map((r) => ({
      actorId: principal.userId,
      organizationId: dto.organizationId,
      action: 'notification.sent',
      resourceType: 'notification',
      resourceId: r.id,
      outcome: 'success',
      ...(requestId ? { requestId } : {}),
      details: {
        recipientId: r.userId,
        priority: r.priority ?? 'normal',
        actorRole: principal.role,
      },
    }));
    if (rows.length > 0) {
      await this.transactions.run(async (tx) => {
        await this.repository.insertMany(rows, tx);
        for (let i = 0; i < audits.length; i += 500)
          await this.audit.record(audits.slice(i, i + 500), tx);
      });
    }
    for (const row of rows)
      this.publisher.toUser(row, 'notification:new', { notification: toNotification(row) });
    this.logger.info(
      { organizationId: dto.organizationId, recipients: rows.length, actorRole: principal.role },
      'notifications sent',
    );
    return { ids: rows.map((r) => r.id), recipients: rows.length };
  }

  /** Own notifications only (else RESOURCE_NOT_FOUND); reading twice returns the first readAt. */
  async read(
    organizationId: string,
    userId: string,
    notificationId: string,
  ): Promise<{ notificationId: string; readAt: string }> {
    const result = await this.repository.markRead(notificationId, organizationId, userId);
    if (!result) throw AppError.notFound('Notification');
    const readAt = result.readAt.toISOString();
    if (result.changed)
      this.publisher.toUser({ organizationId, userId }, 'notification:read', {
        notificationId,
        readAt,
      });
    return { notificationId, readAt };
  }

  /** `notification:sync`: the user's unread notifications (newest first, NOTIFICATION_SYNC_LIMIT) and their count. */
  async unreadSync(user: AuthenticatedUser): Promise<Delivery[]> {
    const { rows, total: unreadCount } = await this.repository.unread(
      user.organizationId,
      user.userId,
      NOTIFICATION_SYNC_LIMIT,
    );
    return [delivery('notification:sync', { unread: rows.map(toNotification), unreadCount })];
  }
}
