import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService } from '../audit/audit.service.js';
import { DependencyLog } from '../observability/dependency-log.js';
import type { ApiPrincipal } from '../http/api-auth.guard.js';
import { MembersService } from '../members/members.service.js';
import { NAMESPACES } from '../protocol/constants.js';
import { AppError, toErrorObject } from '../protocol/errors.js';
import type { AuthenticatedUser } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';
import { SessionService } from '../sessions/session.service.js';
import { RevocationsRepository } from './revocations.repository.js';

/** A node's view of the revocations table is at most this old when a handshake is checked. */
export const REVOCATION_CACHE_MS = 1000;
/** Re-read this far behind the newest revocation seen (transactions commit out of order). */
const WATERMARK_OVERLAP_MS = 10_000;
/** With the database unreachable, the cached view is trusted this long, then handshakes fail. */
const MAX_STALE_MS = 60_000;

/**
 * Session revocation (§9, §11): tokens of a revoked user whose `iat` is at or before the
 * revocation second, or that have no `iat`, are refused at the handshake, at `auth:refresh` and
 * by the HTTP API. Every node keeps the revocations in memory and re-reads the new rows at most
 * once per REVOCATION_CACHE_MS (one query per second per node, not per connection); a revocation
 * also drops the user's sockets on every node twice: at once, and again after that window, so a
 * handshake that raced the revocation on another node does not survive it.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnApplicationShutdown {
  /** userId → revocation second (floor of the revocation instant). */
  private readonly revokedSec = new Map<string, number>();
  private watermark?: Date;
  private refreshedAt = 0;
  private refreshing?: Promise<void>;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly repository: RevocationsRepository,
    private readonly members: MembersService,
    private readonly sessions: SessionService,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    @InjectPinoLogger('revocation') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHandshakeCheck({ name: 'revocation', check: (user) => this.check(user) });
  }

  /** Throws AUTHENTICATION_FAILED ("invalid", §3 says no more) for a revoked token. */
  async check(user: Pick<AuthenticatedUser, 'userId' | 'iat'>): Promise<void> {
    await this.fresh();
    const sec = this.revokedSec.get(user.userId);
    if (sec !== undefined && isRevoked(user.iat, sec)) throw AppError.authentication('invalid');
  }

  private async fresh(): Promise<void> {
    if (Date.now() - this.refreshedAt < REVOCATION_CACHE_MS) return;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    try {
      await this.refreshing;
    } catch (err) {
      this.dependencyLog.failed('database', 'revocations-read', err);
      if (Date.now() - this.refreshedAt > MAX_STALE_MS)
        throw AppError.unavailable('Revocations unavailable');
    }
  }

  private async refresh(): Promise<void> {
    const started = Date.now();
    const since = this.watermark
      ? new Date(this.watermark.getTime() - WATERMARK_OVERLAP_MS)
      : undefined;
    const rows = await this.repository.since(since);
    for (const row of rows) this.remember(row.userId, row.revokedAt);
    this.refreshedAt = started;
  }

  private remember(userId: string, revokedAt: Date): number {
    const sec = Math.floor(revokedAt.getTime() / 1000);
    const prev = this.revokedSec.get(userId);
    if (prev === undefined || sec > prev) this.revokedSec.set(userId, sec);
    if (!this.watermark || revokedAt > this.watermark) this.watermark = revokedAt;
    return Math.max(sec, prev ?? sec);
  }

  /** POST /api/v1/sessions/revoke: store, then drop every session of the user on every node. */
  async revoke(
    principal: ApiPrincipal,
    userId: string,
    requestId?: string,
  ): Promise<{ disconnected: number }> {
    let organizationId = principal.organizationId;
    if (principal.role === 'admin') {
      if (!(await this.members.isMember(principal.organizationId, userId))) {
        throw AppError.forbidden('Admins may revoke members of their own organization only');
      }
    } else {
      organizationId = (await this.members.organizationsOf(userId))[0] ?? principal.organizationId;
    }
    const revokedAt = await this.repository.revoke(userId, organizationId);
    const sec = this.remember(userId, revokedAt);
    const disconnected = await this.dropSessions(userId, sec);
    await this.audit.record({
      actorId: principal.userId,
      organizationId,
      action: 'session.revoked',
      resourceType: 'user',
      resourceId: userId,
      outcome: 'success',
      ...(requestId ? { requestId } : {}),
      details: { disconnected, actorRole: principal.role },
    });
    this.logger.info({ userId, organizationId, disconnected }, 'sessions revoked');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.dropSessions(userId, sec).catch((err: unknown) =>
        this.logger.warn(
          { userId, errorName: (err as Error)?.name },
          'second revocation sweep failed',
        ),
      );
    }, REVOCATION_CACHE_MS + 500);
    timer.unref();
    this.timers.add(timer);
    return { disconnected };
  }

  /**
   * `auth:expired` (type AUTHENTICATION_FAILED, "Session revoked"), then a server-side
   * disconnect, for every socket of the user on every node whose token the revocation covers.
   * Goes through the adapter, so with Redis it reaches the other nodes' sockets too.
   */
  private async dropSessions(userId: string, revokedSec: number): Promise<number> {
    const error = toErrorObject(AppError.authentication('revoked'));
    let total = 0;
    for (const ns of NAMESPACES) {
      const nsp = this.publisher.io.of(ns);
      const sockets = await nsp.in(rooms.user(userId)).fetchSockets();
      const ids = sockets.filter((s) => isRevoked(s.data.user?.iat, revokedSec)).map((s) => s.id);
      if (ids.length === 0) continue;
      total += ids.length;
      nsp.to(ids).emit('auth:expired', error);
      nsp.in(ids).disconnectSockets(true);
    }
    return total;
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function isRevoked(iat: number | undefined, revokedSec: number): boolean {
  return iat === undefined || iat <= revokedSec;
}
