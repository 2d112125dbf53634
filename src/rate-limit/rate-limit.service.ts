import { Inject, Injectable } from '@nestjs/common';
import {
  APP_CONFIG,
  RATE_LIMIT_KEYS,
  type AppConfig,
  type BucketSpec,
  type RateLimitKey,
} from '../config/config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { NAMESPACE_EVENTS } from '../protocol/events.js';
import { userKeyString, type UserKey } from '../protocol/user-key.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit.store.js';

export interface LimitDecision {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
}

/**
 * The key prefix of every bucket of one user: `user:{<org>:<user>}:` (§12.1). The braces are a
 * Redis Cluster hash tag: all of a user's buckets live in one slot, so a reset deletes them in
 * one command (on a single Redis they are plain characters). Ids never contain braces, so the
 * names before the tag (`user:<org>:<user>:…`) can never be read as these: after an upgrade the
 * old keys are simply unused and expire after the idle period.
 */
export function userBucketPrefix(user: UserKey): string {
  return `user:{${userKeyString(user)}}:`;
}

/** Every client event: each has a bucket of its own per user (its §7 row or `default`). */
export const CLIENT_EVENT_NAMES: readonly string[] = [
  ...new Set([...NAMESPACE_EVENTS['/'], ...NAMESPACE_EVENTS['/communication']]),
].sort();

/**
 * Every bucket name a user can have: one per client event (the router's table equals
 * NAMESPACE_EVENTS, checked at start) and `handshake:user` (§12.3). A reset deletes exactly these.
 */
export const USER_BUCKETS: readonly string[] = [...CLIENT_EVENT_NAMES, 'handshake:user'];

/**
 * Token buckets per user and event (§7) and per IP at the handshake (§11). A user is
 * (organizationId, userId) (§12.1): the same id in two organizations has two sets of buckets.
 */
@Injectable()
export class RateLimitService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    private readonly metrics: MetricsService,
  ) {}

  /** The bucket for an event: its own row of §7 when it has one, else `default`. */
  specFor(event: string, override?: BucketSpec): BucketSpec {
    if ((RATE_LIMIT_KEYS as readonly string[]).includes(event) && event !== 'default') {
      return this.config.rateLimits[event as RateLimitKey];
    }
    return override ?? this.config.rateLimits.default;
  }

  async consumeEvent(user: UserKey, event: string, override?: BucketSpec): Promise<LimitDecision> {
    const decision = await this.store.consume(
      userBucketPrefix(user) + event,
      this.specFor(event, override),
    );
    if (!decision.allowed) this.metrics.rateLimited.inc({ scope: 'event', event });
    return decision;
  }

  async consumeHandshake(ip: string): Promise<LimitDecision> {
    const decision = await this.store.consume(
      `ip:${ip}:handshake`,
      this.config.rateLimits['handshake:ip'],
    );
    if (!decision.allowed)
      this.metrics.rateLimited.inc({ scope: 'handshake', event: 'handshake:ip' });
    return decision;
  }

  /** §12.3 `http:api`: one bucket per principal, the (organizationId, userId) of the token. */
  async consumeHttpApi(organizationId: string, userId: string): Promise<LimitDecision> {
    const decision = await this.store.consume(
      `http:api:${organizationId}:${userId}`,
      this.config.rateLimits['http:api'],
    );
    if (!decision.allowed) this.metrics.rateLimited.inc({ scope: 'http', event: 'http:api' });
    return decision;
  }

  /** §12.3 `http:auth-failure`: spent by each HTTP request refused with 401, per client address. */
  async consumeHttpAuthFailure(address: string): Promise<LimitDecision> {
    const decision = await this.store.consume(
      `http:auth-failure:${address}`,
      this.config.rateLimits['http:auth-failure'],
    );
    if (!decision.allowed)
      this.metrics.rateLimited.inc({ scope: 'http', event: 'http:auth-failure' });
    return decision;
  }

  /** Operators: tokens left for a user and event. */
  async tokensLeft(user: UserKey, event: string): Promise<number> {
    return this.store.peek(userBucketPrefix(user) + event, this.specFor(event));
  }

  /** Operators: refill every bucket of a user. Returns how many buckets were dropped. */
  async resetUser(user: UserKey): Promise<number> {
    const prefix = userBucketPrefix(user);
    return this.store.reset(USER_BUCKETS.map((bucket) => prefix + bucket));
  }
}
