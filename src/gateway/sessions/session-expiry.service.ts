import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { CredentialChecks } from '../../auth/credential-checks.js';
import { expiryDeadlineMs, stripBearer, TokenVerifier } from '../../auth/token-verifier.service.js';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { RealtimePublisher } from '../publisher/realtime.publisher.js';
import type { AppSocket } from '../socket.types.js';
import type { NamespaceName } from '../../protocol/constants.js';
import { AppError, toErrorObject } from '../../protocol/errors.js';
import type { AuthenticatedUser } from '../../protocol/models.js';
import { ExpirySchedule } from './expiry-schedule.js';

/**
 * A session lives as long as its token (§3, §11): at `exp` + tolerance it gets `auth:expired`
 * and a server disconnect; `auth:refresh` with a valid token of the same user and organization
 * moves the deadline. Every socket's deadline is on one timer (ExpirySchedule).
 */
@Injectable()
export class SessionExpiry implements OnApplicationShutdown {
  private readonly expiries = new ExpirySchedule<AppSocket>((socket) => this.expire(socket));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly verifier: TokenVerifier,
    private readonly checks: CredentialChecks,
    private readonly publisher: RealtimePublisher,
  ) {}

  private deadline(user: AuthenticatedUser): number {
    return expiryDeadlineMs(user.exp, this.config.jwt.clockToleranceSec);
  }

  /** Arms the socket's deadline (on connect, and again after a refresh). */
  schedule(socket: AppSocket): void {
    this.expiries.add(socket, this.deadline(socket.data.user));
  }

  /** The socket is gone: its deadline no longer matters. */
  forget(socket: AppSocket): void {
    this.expiries.delete(socket, this.deadline(socket.data.user));
  }

  private expire(socket: AppSocket): void {
    if (socket.disconnected) return;
    if (this.deadline(socket.data.user) > Date.now() + 5) {
      this.schedule(socket);
      return;
    }
    this.publisher.disconnect(
      { id: socket.id, namespace: socket.nsp.name as NamespaceName },
      toErrorObject(AppError.authentication('expired')),
    );
  }

  /** `auth:refresh`: a valid token of the same user and organization moves the expiry. */
  async refresh(socket: AppSocket, token: string): Promise<{ expiresAt: string }> {
    const next: AuthenticatedUser = await this.verifier.verify(stripBearer(token));
    const current = socket.data.user;
    if (next.userId !== current.userId || next.organizationId !== current.organizationId) {
      throw AppError.forbidden('Token belongs to another user or organization');
    }
    await this.checks.assert(next);
    // Out of the bucket of the deadline it is in now (socket.data.user, not `current`: another
    // refresh may have moved it meanwhile), into the new one unless it is gone.
    this.forget(socket);
    socket.data.user = {
      ...current,
      exp: next.exp,
      ...(next.iat !== undefined ? { iat: next.iat } : {}),
    };
    if (!socket.disconnected) this.schedule(socket);
    return { expiresAt: new Date(next.exp * 1000).toISOString() };
  }

  onApplicationShutdown(): void {
    this.expiries.clear();
  }
}
