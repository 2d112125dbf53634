import { Inject, Injectable, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { AppError } from '../protocol/errors.js';
import type { AuthenticatedUser, Conversation } from '../protocol/models.js';
import { ByteBudgetCache, stringBytes } from './byte-budget-cache.js';
import { ConversationsRepository, type ConversationRecord } from './conversations.repository.js';

/** The static part of a conversation, cached: participants only change at creation (§5). */
export interface ConversationMeta {
  id: string;
  organizationId: string;
  title: string | null;
  createdBy: string;
  createdAt: string;
  participantIds: string[];
  participants: Set<string>;
}

export type Caller = Pick<AuthenticatedUser, 'userId' | 'organizationId' | 'role'>;

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

/**
 * The node's cache of conversation metadata (bounded by bytes, reloaded on demand) and the access
 * check every conversation, message and receipt event starts with. `message:send` answers from
 * here without a query.
 */
@Injectable()
export class ConversationCache {
  private readonly cache: ByteBudgetCache<string, ConversationMeta>;

  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly metrics: MetricsService,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.cache = new ByteBudgetCache(
      config?.conversationCacheBytes ?? CONVERSATION_CACHE_BYTES,
      metaBytes,
    );
  }

  /**
   * The conversation if the caller may use it: another organization's (or an unknown) id is
   * RESOURCE_NOT_FOUND, a non-participant of the caller's organization AUTHORIZATION_FAILED.
   */
  async access(caller: Caller, conversationId: string): Promise<ConversationMeta> {
    const meta = await this.get(conversationId);
    if (!meta || meta.organizationId !== caller.organizationId)
      throw AppError.notFound('Conversation');
    if (!meta.participants.has(caller.userId))
      throw AppError.forbidden('Not a participant of this conversation');
    return meta;
  }

  /** The conversation's metadata, from the cache or the database; undefined when unknown. */
  async get(conversationId: string): Promise<ConversationMeta | undefined> {
    const hit = this.cache.get(conversationId);
    if (hit) return hit;
    const record = await this.conversations.findById(conversationId);
    return record ? this.remember(record) : undefined;
  }

  /** Caches a conversation read from the database (the cached entry wins if there is one). */
  remember(record: ConversationRecord): ConversationMeta {
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
}

/** The wire shape of a cached conversation at `lastSeq`. */
export function toConversation(meta: ConversationMeta, lastSeq: number): Conversation {
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
