import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { ExtendedError } from 'socket.io';
import { CredentialChecks } from '../../auth/credential-checks.js';
import { stripBearer, TokenVerifier } from '../../auth/token-verifier.service.js';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import type { AppNamespace, AppSocket } from '../socket.types.js';
import { DependencyLog } from '../../observability/dependency-log.js';
import { MetricsService } from '../../observability/metrics.service.js';
import type { NamespaceName } from '../../protocol/constants.js';
import { AppError, toErrorObject } from '../../protocol/errors.js';
import type { AuthenticatedUser } from '../../protocol/models.js';
import { userKeyString } from '../../protocol/user-key.js';
import { RateLimitService } from '../../rate-limit/rate-limit.service.js';
import { clientAddressOf, type ClientAddressOf } from './client-address.js';
import { DrainService } from './drain.service.js';
import { logRefusedHandshake, refusalCategory } from './handshake-refusal-log.js';
import { HandshakeAborted, HandshakeSlots } from './handshake-slot.js';

function refusal(error: AppError): ExtendedError {
  const err = new Error(error.type) as ExtendedError;
  err.data = toErrorObject(error);
  return err;
}

/**
 * The handshake (Socket.IO middleware, so a refused client gets `connect_error` before any
 * handler): draining → token → credential checks (revocation) → per-address bucket for refusals
 * → per-user bucket → per-user connection cap → `socket.data.user`.
 */
@Injectable()
export class HandshakeService {
  private readonly installed = new Set<NamespaceName>();
  private readonly clientAddress: ClientAddressOf;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly verifier: TokenVerifier,
    private readonly checks: CredentialChecks,
    private readonly limits: RateLimitService,
    private readonly slots: HandshakeSlots,
    private readonly metrics: MetricsService,
    private readonly drain: DrainService,
    @InjectPinoLogger('session') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {
    this.clientAddress = clientAddressOf(config.trustProxy);
  }

  /** Installs the handshake middleware, once per namespace. */
  install(nsp: AppNamespace): void {
    const name = nsp.name as NamespaceName;
    if (this.installed.has(name)) return;
    this.installed.add(name);
    nsp.use((socket, next) => {
      this.authenticate(socket, name).then(
        () => next(),
        (err: unknown) => next(this.refuse(socket, name, err)),
      );
    });
  }

  private refuse(socket: AppSocket, ns: NamespaceName, err: unknown): ExtendedError {
    if (err instanceof HandshakeAborted) {
      this.metrics.handshakeRefused.inc({ reason: 'ABORTED' });
      return refusal(AppError.unavailable('Handshake aborted'));
    }
    const appErr =
      err instanceof AppError ? err : AppError.unavailable('Handshake could not be completed');
    this.metrics.handshakeRefused.inc({ reason: appErr.type });
    logRefusedHandshake(
      this.logger,
      refusalCategory(appErr),
      this.clientAddress(socket.request),
      ns,
    );
    if (!(err instanceof AppError)) this.dependencyLog.failed('hook', 'handshake', err);
    return refusal(appErr);
  }

  /** Token sources, first found wins: auth.token, Authorization header, ?token= when allowed. */
  extractToken(socket: AppSocket): string | undefined {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const fromAuth = stripBearer(auth?.token);
    if (fromAuth) return fromAuth;
    const header = socket.handshake.headers.authorization;
    if (typeof header === 'string' && /^Bearer\s+/i.test(header)) return stripBearer(header);
    if (this.config.ws.allowQueryToken) return stripBearer(socket.handshake.query.token);
    return undefined;
  }

  /**
   * §12.3: the per-address bucket is spent by refused handshakes only (a school behind one NAT
   * address must never be locked out by someone else's bad tokens); once it is empty, refusals
   * from that address answer RATE_LIMIT_EXCEEDED. A valid token is limited per user instead: the
   * `handshake:user` bucket and the cap of live sockets.
   */
  private async authenticate(socket: AppSocket, ns: NamespaceName): Promise<void> {
    if (this.drain.draining) throw AppError.unavailable('Server is shutting down');
    const ip = this.clientAddress(socket.request);
    let user: AuthenticatedUser;
    try {
      user = await this.verifier.verify(this.extractToken(socket));
      await this.checks.assert(user);
    } catch (err) {
      if (err instanceof AppError && err.type === 'AUTHENTICATION_FAILED') {
        const ipDecision = await this.limits.consumeHandshake(ip);
        if (!ipDecision.allowed) throw AppError.rateLimited(ipDecision.retryAfterMs);
      }
      throw err;
    }
    const userDecision = await this.limits.consumeEvent(user, 'handshake:user');
    if (!userDecision.allowed) throw AppError.rateLimited(userDecision.retryAfterMs);
    const acquired = await this.slots.acquire(
      socket,
      ns,
      userKeyString(user),
      this.config.ws.maxConnectionsPerUser,
    );
    if (!acquired) {
      this.metrics.rateLimited.inc({ scope: 'connections', event: 'handshake:user' });
      throw new AppError('RATE_LIMIT_EXCEEDED', 'Too many connections for this user', {
        retryAfterMs: 1000,
      });
    }
    socket.data.user = user;
    socket.data.ip = ip;
  }
}
