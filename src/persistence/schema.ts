import { sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Conversations; `last_seq` is the per-conversation sequence allocator (UPDATE … RETURNING). */
export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    organizationId: text('organization_id').notNull(),
    title: text('title'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastSeq: integer('last_seq').notNull().default(0),
  },
  (t) => [index('conversations_org_idx').on(t.organizationId)],
);

/** Membership with delivered/read watermarks (one row per participant, not per message). */
export const participants = pgTable(
  'conversation_participants',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    organizationId: text('organization_id').notNull(),
    deliveredSeq: integer('delivered_seq').notNull().default(0),
    readSeq: integer('read_seq').notNull().default(0),
    joinedAt: ts('joined_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('participants_user_idx').on(t.userId),
  ],
);

/** Messages; the id is the client's idempotency key (uuid v4), `seq` gapless per conversation. */
export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    senderId: text('sender_id').notNull(),
    organizationId: text('organization_id').notNull(),
    type: text('type').notNull().default('text'),
    content: text('content').notNull(),
    metadata: jsonb('metadata')
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    createdAt: ts('created_at').notNull().defaultNow(),
    editedAt: ts('edited_at'),
    deletedAt: ts('deleted_at'),
  },
  (t) => [uniqueIndex('messages_conversation_seq_uq').on(t.conversationId, t.seq)],
);

/** Users seen connecting, with their role: resolves roles for notifications, alerts and admin rights. */
export const members = pgTable(
  'members',
  {
    organizationId: text('organization_id').notNull(),
    userId: text('user_id').notNull(),
    role: text('role').notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.organizationId, t.userId] }),
    index('members_org_role_idx').on(t.organizationId, t.role),
  ],
);

export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    organizationId: text('organization_id').notNull(),
    userId: text('user_id').notNull(),
    type: text('type').notNull(),
    title: text('title').notNull(),
    body: text('body'),
    priority: text('priority').notNull().default('normal'),
    data: jsonb('data')
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    createdAt: ts('created_at').notNull().defaultNow(),
    readAt: ts('read_at'),
  },
  (t) => [index('notifications_user_idx').on(t.userId, t.readAt, t.createdAt)],
);

export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    organizationId: text('organization_id').notNull(),
    severity: text('severity').notNull(),
    title: text('title').notNull(),
    message: text('message').notNull(),
    studentId: text('student_id'),
    location: text('location'),
    dueAt: ts('due_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at'),
    resolvedAt: ts('resolved_at'),
    createdBy: text('created_by').notNull(),
    /** Recipients at creation (migration 0006); null for older alerts (count their rows). */
    targeted: integer('targeted'),
  },
  (t) => [index('alerts_org_active_idx').on(t.organizationId, t.kind, t.resolvedAt)],
);

/** Per-recipient delivery and acknowledgement of an alert. */
export const alertRecipients = pgTable(
  'alert_recipients',
  {
    alertId: text('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    targeted: integer('targeted').notNull().default(1),
    deliveredAt: ts('delivered_at'),
    acknowledgedAt: ts('acknowledged_at'),
    lastSentAt: ts('last_sent_at'),
    deliveryCount: integer('delivery_count').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.alertId, t.userId] }),
    index('alert_recipients_user_idx').on(t.userId),
  ],
);

/**
 * Alert escalation outbox (§12.7, migration 0005): one row per alert that may escalate, claimed by
 * one node at a time (FOR UPDATE SKIP LOCKED + a lease). See src/alerts/escalation/.
 */
export const alertEscalations = pgTable(
  'alert_escalations',
  {
    alertId: text('alert_id')
      .primaryKey()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    organizationId: text('organization_id').notNull(),
    deliveryId: text('delivery_id').notNull(),
    /** scheduled | pending | delivered | abandoned | cancelled */
    state: text('state').notNull().default('scheduled'),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    claimToken: text('claim_token'),
    claimedBy: text('claimed_by'),
    claimExpiresAt: ts('claim_expires_at'),
    /** The exact body sent (ids and counts only), fixed at the first attempt. */
    payload: text('payload'),
    escalatedAt: ts('escalated_at'),
    deliveredAt: ts('delivered_at'),
    lastOutcome: text('last_outcome'),
    finishedAt: ts('finished_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('alert_escalations_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.state} IN ('scheduled', 'pending')`),
  ],
);

/**
 * Session revocations, one row per user of an organization (§12.1): tokens of that user with
 * `iat` ≤ `revoked_at` (or no iat) are refused. Migration 0003.
 */
export const revocations = pgTable(
  'revocations',
  {
    organizationId: text('organization_id').notNull(),
    userId: text('user_id').notNull(),
    revokedAt: ts('revoked_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.organizationId, t.userId] }),
    index('revocations_revoked_at_idx').on(t.revokedAt),
  ],
);

/** Audit trail: who, what, when, outcome, request id — never message, notification or alert text. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    actorId: text('actor_id'),
    organizationId: text('organization_id'),
    action: text('action').notNull(),
    resourceType: text('resource_type'),
    resourceId: text('resource_id'),
    outcome: text('outcome').notNull(),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_resource_idx').on(t.resourceType, t.resourceId)],
);

export const schema = {
  conversations,
  participants,
  messages,
  members,
  notifications,
  alerts,
  alertRecipients,
  alertEscalations,
  revocations,
  auditLog,
};
