/** Wire shapes of §6. Every time is an ISO-8601 string in UTC. */
import type { Role } from './constants.js';

export type PresenceStatus = 'online' | 'away' | 'offline';
export type Priority = 'low' | 'normal' | 'high' | 'critical';
export type AlertKind = 'emergency' | 'medication-reminder' | 'health';
export type Severity = 'info' | 'warning' | 'critical';

export interface AuthenticatedUser {
  userId: string;
  organizationId: string;
  role: Role;
  /** `exp` of the current token, seconds since the epoch. */
  exp: number;
  /** `iat` of the current token, when present. */
  iat?: number;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  organizationId: string;
  type: 'text';
  content: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

export interface Conversation {
  id: string;
  organizationId: string;
  title: string | null;
  participantIds: string[];
  createdBy: string;
  createdAt: string;
  lastSeq: number;
}

/** One entry of `conversation:list` (§12.6): the conversation and the caller's view of it. */
export interface ConversationSummary {
  conversation: Conversation;
  /** The message with `seq = conversation.lastSeq`; null for an empty conversation. */
  lastMessage: Message | null;
  /** Messages above the caller's read cursor (one's own sends move it, so they never count). */
  unreadCount: number;
  deliveredSeq: number;
  readSeq: number;
}

export interface Notification {
  id: string;
  type: string;
  title: string;
  body: string | null;
  priority: Priority;
  data: Record<string, unknown>;
  createdAt: string;
  readAt: string | null;
}

export interface Alert {
  id: string;
  kind: AlertKind;
  organizationId: string;
  severity: Severity;
  title: string;
  message: string;
  studentId?: string;
  location?: string;
  dueAt?: string;
  createdAt: string;
  expiresAt?: string;
  resolvedAt?: string;
}

export interface PresenceEntry {
  userId: string;
  status: PresenceStatus;
  lastSeenAt: string | null;
}
