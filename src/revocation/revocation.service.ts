import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService } from '../audit/audit.service.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { MembersService } from '../members/members.service.js';
import { CredentialChecks } from '../auth/credential-checks.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import type { Session } from '../gateway/publisher/session.js';
import { AppError, toErrorObject } from '../protocol/errors.js';
import { userKeyString, type UserKey } from '../protocol/user-key.js';
import { RevocationBus, type RevocationNotice } from './revocation-bus.js';
import { RevocationsRepository } from './revocations.repository.js';

/** A node's view of the revocations table is re-read at least this often. */
export const REVOCATION_CACHE_MS = 1000;
/** Re-read this far behind the newest revocation seen (transactions commit out of order). */
const WATERMARK_OVERLAP_MS = 10_000;
/** §12.2: a node that could not read revocations for longer refuses handshakes (fail closed). */
export const REVOCATION_MAX_STALE_MS = 5000;
/** §12.2: a node that has not confirmed a revocation within this long is `unreachable`. */
export const REVOKE_CONFIRM_TIMEOUT_MS = 2000;
/** The event loop stood still this long (SIGSTOP, a VM pause): re-read before any handshake. */
const PAUSE_DETECT_MS = 1500;
const TICK_MS = 250;
/** How long a node remembers how many sockets a revocation dropped here (see `droppedBy`). */
const DROP_COUNT_MS = 60_000;

/** What a revoked session is told before its disconnect. */
const revokedNotice = () => toErrorObject(AppError.authentication('revoked'));

export interface RevokeResult {
  disconnected: number;
  nodes: { confirmed: number; unreachable: number };
}

/**
 * Session revocation (§9, §11, §12.1, §12.2), per user of an organization. Tokens of a revoked
 * user whose `iat` is at or before the revocation second, or that have no `iat`, are refused at
 * the handshake, at `auth:refresh` and by the HTTP API.
 *
 * Every node keeps the revocations in memory. A revoke stores the row, then tells every live node
 * over the RevocationBus; each remembers it and drops its covered sockets before confirming, so
 * when the 200 goes out every confirming node already refuses the tokens. A node that does not
 * confirm within 2 s is reported unreachable and is sent the revocation again in the background;
 * besides, every node re-reads new rows once a second and drops the sockets a newly learned
 * revocation covers, so a node that missed the message (Redis blip, pause) catches up by itself.
 *
 * Fail closed: a node that could not read the table for more than 5 s refuses handshakes with
 * SERVICE_UNAVAILABLE, and a node whose event loop stood still (SIGSTOP) re-reads before it
 * accepts the next handshake.
 */
@Injectable()
export class RevocationService
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  /** userKeyString → revocation second (floor of the revocation instant). */
  private readonly revokedSec = new Map<string, number>();
  private watermark?: Date;
  /** When the last successful read started. */
  private refreshedAt = 0;
  private refreshing?: Promise<void>;
  /** Set when a pause was detected; cleared by a read that started after it. */
  private pausedAt = 0;
  private lastTick = Date.now();
  private ticker?: NodeJS.Timeout;
  private lastReadWarning = 0;
  /**
   * Sockets dropped here per revocation (user and second), by whichever path dropped them first:
   * the revoke itself, the bus message, or the once-a-second re-read, which can see the new row
   * before the bus message arrives. The bus answer and the revoke's count report this total, so
   * a socket the re-read dropped a moment earlier is still counted in `disconnected`.
   */
  private readonly droppedBy = new Map<string, { count: number; at: number }>();

  constructor(
    private readonly repository: RevocationsRepository,
    private readonly members: MembersService,
    private readonly checks: CredentialChecks,
    private readonly publisher: RealtimePublisher,
    private readonly bus: RevocationBus,
    private readonly audit: AuditService,
    @InjectPinoLogger('revocation') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.checks.register({ name: 'revocation', check: (user) => this.check(user) });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.start((notice) => this.apply(notice));
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
    await this.refresh().catch((err: unknown) =>
      this.logger.warn({ errorName: (err as Error)?.name }, 'revocations could not be read'),
    );
  }

  /** The event loop ran now; a gap longer than PAUSE_DETECT_MS was a pause. */
  private noteTick(): void {
    const now = Date.now();
    if (now - this.lastTick > PAUSE_DETECT_MS) this.pausedAt = now;
    this.lastTick = now;
  }

  private tick(): void {
    this.noteTick();
    const stale = Date.now() - DROP_COUNT_MS;
    for (const [key, d] of this.droppedBy) if (d.at < stale) this.droppedBy.delete(key);
    if (this.mustReread || Date.now() - this.refreshedAt >= REVOCATION_CACHE_MS) {
      this.fresh().catch(() => undefined);
    }
  }

  /** Whether a token of this user issued at `iat` is revoked, as this node knows now (no read). */
  isRevokedNow(user: UserKey & { iat?: number }): boolean {
    const sec = this.revokedSec.get(userKeyString(user));
    return sec !== undefined && isRevoked(user.iat, sec);
  }

  /**
   * RevocationHook: a handshake that passed the check just before a revocation arrived is
   * dropped, with the `revoked` notice, before any replay reaches it.
   */
  dropIfRevoked(session: Session): void {
    if (this.isRevokedNow(session.user)) this.publisher.disconnect(session, revokedNotice());
  }

  /** Throws AUTHENTICATION_FAILED ("invalid", §3 says no more) for a revoked token. */
  async check(user: UserKey & { iat?: number }): Promise<void> {
    await this.fresh();
    if (this.isRevokedNow(user)) throw AppError.authentication('invalid');
  }

  /** A pause was noticed and no read has started since. */
  private get mustReread(): boolean {
    return this.pausedAt > this.refreshedAt;
  }

  private async fresh(): Promise<void> {
    this.noteTick();
    if (!this.mustReread && Date.now() - this.refreshedAt < REVOCATION_CACHE_MS) return;
    try {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
      await this.refreshing;
      // A read already running when the pause was noticed does not count: read again.
      if (this.mustReread) await this.refresh();
    } catch (err) {
      if (Date.now() - this.lastReadWarning > 5000) {
        this.lastReadWarning = Date.now();
        this.logger.warn({ errorName: (err as Error)?.name }, 'revocations could not be read');
      }
      if (this.mustReread || Date.now() - this.refreshedAt > REVOCATION_MAX_STALE_MS)
        throw AppError.unavailable('Revocations unavailable');
    }
  }

  private async refresh(): Promise<void> {
    const started = Date.now();
    const since = this.watermark
      ? new Date(this.watermark.getTime() - WATERMARK_OVERLAP_MS)
      : undefined;
    const rows = await this.repository.since(since);
    const initial = this.refreshedAt === 0;
    for (const row of rows) {
      const sec = Math.floor(row.revokedAt.getTime() / 1000);
      if (!this.watermark || row.revokedAt > this.watermark) this.watermark = row.revokedAt;
      // A revocation this node did not hear of (missed message, pause): drop what it covers.
      if (this.remember(row, sec) && !initial) this.dropLocal(row, sec);
    }
    this.refreshedAt = started;
  }

  /** Records a revocation second; true when it is news (no entry, or a later second). */
  private remember(user: UserKey, sec: number): boolean {
    const key = userKeyString(user);
    const prev = this.revokedSec.get(key);
    if (prev !== undefined && prev >= sec) return false;
    this.revokedSec.set(key, sec);
    return true;
  }

  /**
   * A revocation from another node: remember it, drop the covered sockets here, and answer how
   * many this revocation dropped here (also those the re-read dropped before the message came).
   */
  private apply(notice: RevocationNotice): number {
    this.remember(notice, notice.sec);
    return this.dropLocal(notice, notice.sec);
  }

  /**
   * POST /api/v1/sessions/revoke. `organizationId` defaults to the caller's own (a service
   * token's is its claim); an admin naming another organization, or a user who is not a member
   * of its organization → 403. Once the row is stored nothing here answers 5xx.
   */
  async revoke(
    principal: ApiPrincipal,
    userId: string,
    organizationId: string | undefined,
    requestId?: string,
  ): Promise<RevokeResult> {
    const user: UserKey = { organizationId: organizationId ?? principal.organizationId, userId };
    assertOrganizationAccess(principal, user.organizationId);
    if (principal.role === 'admin' && !(await this.members.isMember(user.organizationId, userId))) {
      throw AppError.forbidden('Admins may revoke members of their own organization only');
    }
    const revokedAt = await this.repository.revoke(user);
    const sec = Math.floor(revokedAt.getTime() / 1000);
    const notice: RevocationNotice = { ...user, sec };
    let disconnected = 0;
    let confirmed = 1;
    let unreachable: string[] = [];
    try {
      this.remember(user, sec);
      disconnected += this.dropLocal(user, sec);
    } catch (err) {
      // Still tell the others; this node re-reads and drops on its next tick.
      confirmed = 0;
      this.logger.error({ errorName: (err as Error)?.name }, 'local revocation drop failed');
    }
    const outcome = await this.bus.broadcast(notice, REVOKE_CONFIRM_TIMEOUT_MS);
    disconnected += outcome.disconnected;
    confirmed += outcome.confirmed.length;
    unreachable = outcome.unreachable;
    if (unreachable.length > 0) this.bus.retry(notice, unreachable, REVOKE_CONFIRM_TIMEOUT_MS);
    const result: RevokeResult = {
      disconnected,
      nodes: { confirmed, unreachable: unreachable.length },
    };
    await this.audit
      .record({
        actorId: principal.userId,
        organizationId: user.organizationId,
        action: 'session.revoked',
        resourceType: 'user',
        resourceId: userId,
        outcome: 'success',
        ...(requestId ? { requestId } : {}),
        details: {
          disconnected,
          actorRole: principal.role,
          actorOrganizationId: principal.organizationId,
          nodesConfirmed: confirmed,
          nodesUnreachable: unreachable.length,
        },
      })
      .catch((err: unknown) =>
        this.logger.error({ errorName: (err as Error)?.name }, 'revocation audit failed'),
      );
    this.logger.info(
      { userId, organizationId: user.organizationId, disconnected, ...result.nodes },
      'sessions revoked',
    );
    return result;
  }

  /**
   * `auth:expired` (type AUTHENTICATION_FAILED, "Session revoked"), then a server-side
   * disconnect, for every socket of the user on THIS node (both namespaces) whose token the
   * revocation covers. Synchronous and local: other nodes do their own on the bus message.
   * Returns how many sockets this revocation has dropped here so far, by any path (`droppedBy`).
   */
  private dropLocal(user: UserKey, revokedSec: number): number {
    const dropped = this.publisher.disconnectUser(
      user,
      (session) => isRevoked(session.user.iat, revokedSec),
      revokedNotice(),
    );
    const key = dropKey(user, revokedSec);
    const total = (this.droppedBy.get(key)?.count ?? 0) + dropped;
    if (dropped > 0) this.droppedBy.set(key, { count: total, at: Date.now() });
    return total;
  }

  onApplicationShutdown(): void {
    if (this.ticker) clearInterval(this.ticker);
  }
}

function dropKey(user: UserKey, revokedSec: number): string {
  return `${userKeyString(user)}\u0000${revokedSec}`;
}

function isRevoked(iat: number | undefined, revokedSec: number): boolean {
  return iat === undefined || iat <= revokedSec;
}
