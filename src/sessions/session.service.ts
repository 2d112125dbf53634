import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { ExtendedError } from 'socket.io';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { expiryDeadlineMs, stripBearer, TokenVerifier } from '../auth/token-verifier.service.js';
import type { AppNamespace, AppSocket } from '../gateway/socket.types.js';
import { DependencyLog } from '../observability/dependency-log.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { NamespaceName } from '../protocol/constants.js';
import { NAMESPACE_EVENTS, type ClientEventName } from '../protocol/events.js';
import { AppError, toErrorObject, type ErrorObject } from '../protocol/errors.js';
import type { AuthenticatedUser } from '../protocol/models.js';
import { automaticRooms } from '../protocol/rooms.js';
import { userKeyString } from '../protocol/user-key.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { CONNECTION_COUNTER, type ConnectionCounter } from './connection-counter.js';
import { clientAddressOf, type ClientAddressOf } from './client-address.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { logRefusedHandshake, refusalCategory } from './handshake-refusal-log.js';
import { HandshakeAborted, HandshakeSlots } from './handshake-slot.js';
import type { HandshakeCheck, SessionContext, SessionHook } from './session-hooks.js';

function refusal(error: AppError): ExtendedError {
  const err = new Error(error.type) as ExtendedError;
  err.data = toErrorObject(error);
  return err;
}

/**
 * Everything about a socket's life: the handshake (per-IP rate, token, checks, per-user cap),
 * §4's connection sequence, the expiry timer and `auth:refresh`, unknown events, slow consumers,
 * and disconnect. Modules plug in through hooks; nothing here knows about messages or alerts.
 */
@Injectable()
export class SessionService implements OnApplicationShutdown {
  private readonly hooks: SessionHook[] = [];
  private readonly checks: HandshakeCheck[] = [];
  /** Live expiry (exp + tolerance) of every socket, on one timer (§11). */
  private readonly expiries = new ExpirySchedule<AppSocket>((socket) => this.expire(socket));
  private readonly unknownEventGuards = new Map<
    NamespaceName,
    (event: unknown, ...args: unknown[]) => void
  >();
  private readonly namespaces = new Map<NamespaceName, AppNamespace>();
  private readonly servedEvents = new Map<string, Set<string>>(
    Object.entries(NAMESPACE_EVENTS).map(([ns, evs]) => [ns, new Set<string>(evs)]),
  );
  private draining = false;
  private readonly pendingDisconnects = new Set<Promise<void>>();
  private readonly slots: HandshakeSlots;
  private readonly clientAddress: ClientAddressOf;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly verifier: TokenVerifier,
    private readonly limits: RateLimitService,
    @Inject(CONNECTION_COUNTER) private readonly counter: ConnectionCounter,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('session') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {
    this.slots = new HandshakeSlots(counter);
    this.clientAddress = clientAddressOf(config.trustProxy);
  }

  registerHook(hook: SessionHook): void {
    this.hooks.push(hook);
    this.hooks.sort((a, b) => a.order - b.order);
  }

  registerHandshakeCheck(check: HandshakeCheck): void {
    this.checks.push(check);
  }

  /** Called from each gateway's afterInit: installs the handshake middleware once per namespace. */
  install(nsp: AppNamespace): void {
    const name = nsp.name as NamespaceName;
    if (this.namespaces.has(name)) return;
    this.namespaces.set(name, nsp);
    nsp.use((socket, next) => {
      this.authenticate(socket, name).then(
        () => next(),
        (err: unknown) => {
          if (err instanceof HandshakeAborted) {
            this.metrics.handshakeRefused.inc({ reason: 'ABORTED' });
            next(refusal(AppError.unavailable('Handshake aborted')));
            return;
          }
          const appErr =
            err instanceof AppError
              ? err
              : AppError.unavailable('Handshake could not be completed');
          this.metrics.handshakeRefused.inc({ reason: appErr.type });
          logRefusedHandshake(
            this.logger,
            refusalCategory(appErr),
            this.clientAddress(socket.request),
            name,
          );
          if (!(err instanceof AppError)) this.dependencyLog.failed('hook', 'handshake', err);
          next(refusal(appErr));
        },
      );
    });
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
    if (this.draining) throw AppError.unavailable('Server is shutting down');
    const ip = this.clientAddress(socket.request);
    let user: AuthenticatedUser;
    try {
      user = await this.verifier.verify(this.extractToken(socket));
      for (const check of this.checks) await check.check(user, ns);
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

  /** §4: rooms, confirmation, then the hooks in order. Called from the gateways' handleConnection. */
  async onConnection(socket: AppSocket, ns: NamespaceName): Promise<void> {
    const user = socket.data.user;
    this.slots.settle(socket);
    this.metrics.connections.inc({ namespace: ns });
    void socket.join(automaticRooms(user));
    this.guardUnknownEvents(socket, ns);
    this.scheduleExpiry(socket);
    socket.emit('connection:confirmed', {
      userId: user.userId,
      organizationId: user.organizationId,
      role: user.role,
      socketId: socket.id,
      serverTime: new Date().toISOString(),
    });
    this.logger.debug(
      { userId: user.userId, organizationId: user.organizationId, ns },
      'connected',
    );
    const ctx: SessionContext = { socket, user, namespace: ns };
    for (const hook of this.hooks) {
      if (!hook.onConnect || !hook.namespaces.includes(ns) || socket.disconnected) continue;
      try {
        await hook.onConnect(ctx);
      } catch (err) {
        this.dependencyLog.failed('hook', `connect:${hook.name}`, err);
      }
    }
  }

  onDisconnect(socket: AppSocket, ns: NamespaceName, reason: string): Promise<void> {
    const p = this.runDisconnect(socket, ns, reason);
    this.pendingDisconnects.add(p);
    void p.finally(() => this.pendingDisconnects.delete(p));
    return p;
  }

  private async runDisconnect(socket: AppSocket, ns: NamespaceName, reason: string): Promise<void> {
    const user = socket.data.user;
    if (!user) return;
    this.metrics.connections.dec({ namespace: ns });
    this.expiries.delete(socket, this.deadline(socket.data.user));
    await this.counter.release(ns, userKeyString(user), socket.id).catch(() => undefined);
    const ctx: SessionContext = { socket, user, namespace: ns };
    for (const hook of this.hooks) {
      if (!hook.onDisconnect || !hook.namespaces.includes(ns)) continue;
      try {
        await hook.onDisconnect(ctx, reason);
      } catch (err) {
        this.dependencyLog.failed('hook', `disconnect:${hook.name}`, err);
      }
    }
  }

  /** An event name the namespace does not serve answers BAD_REQUEST (§11). */
  private guardUnknownEvents(socket: AppSocket, ns: NamespaceName): void {
    let guard = this.unknownEventGuards.get(ns);
    if (!guard) {
      guard = this.unknownEventGuard(ns);
      this.unknownEventGuards.set(ns, guard);
    }
    socket.onAny(guard);
  }

  /**
   * One listener per namespace, shared by its sockets (Socket.IO calls `onAny` listeners with the
   * socket as `this`), so a connection costs no closure of its own.
   */
  private unknownEventGuard(ns: NamespaceName): (event: unknown, ...args: unknown[]) => void {
    const served = this.servedEvents.get(ns)!;
    const metrics = this.metrics;
    return function (this: AppSocket, event: unknown, ...args: unknown[]): void {
      if (typeof event === 'string' && served.has(event)) return;
      const name = typeof event === 'string' ? event.slice(0, 64) : 'unknown';
      const error = toErrorObject(AppError.badRequest(`Unknown event for namespace ${ns}`), {
        event: name,
      });
      metrics.events.inc({ event: 'unknown', outcome: 'BAD_REQUEST' });
      const ack = args[args.length - 1];
      if (typeof ack === 'function') (ack as (r: unknown) => void)({ ok: false, error });
      else this.emit('error', error);
    };
  }

  private deadline(user: AuthenticatedUser): number {
    return expiryDeadlineMs(user.exp, this.config.jwt.clockToleranceSec);
  }

  private scheduleExpiry(socket: AppSocket): void {
    this.expiries.add(socket, this.deadline(socket.data.user));
  }

  private expire(socket: AppSocket): void {
    if (socket.disconnected) return;
    if (this.deadline(socket.data.user) > Date.now() + 5) {
      this.scheduleExpiry(socket);
      return;
    }
    this.drop(socket, toErrorObject(AppError.authentication('expired')));
  }

  /** `auth:refresh`: a valid token of the same user and organization moves the expiry. */
  async refresh(socket: AppSocket, token: string): Promise<{ expiresAt: string }> {
    const next: AuthenticatedUser = await this.verifier.verify(stripBearer(token));
    const current = socket.data.user;
    if (next.userId !== current.userId || next.organizationId !== current.organizationId) {
      throw AppError.forbidden('Token belongs to another user or organization');
    }
    for (const check of this.checks) await check.check(next, socket.nsp.name as NamespaceName);
    // Out of the bucket of the deadline it is in now (socket.data.user, not `current`: another
    // refresh may have moved it meanwhile), into the new one unless it is gone.
    this.expiries.delete(socket, this.deadline(socket.data.user));
    socket.data.user = {
      ...current,
      exp: next.exp,
      ...(next.iat !== undefined ? { iat: next.iat } : {}),
    };
    if (!socket.disconnected) this.scheduleExpiry(socket);
    return { expiresAt: new Date(next.exp * 1000).toISOString() };
  }

  /** `auth:expired` with the given error, then a server-side disconnect (client does not retry). */
  drop(socket: AppSocket, error: ErrorObject): void {
    if (socket.disconnected) return;
    socket.emit('auth:expired', error);
    socket.disconnect(true);
  }

  // Slow consumers (WS_MAX_BUFFERED_BYTES) are dropped at write time: gateway/slow-consumer.ts.

  /** Graceful shutdown: refuse new handshakes. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Graceful shutdown (§12.8): a server disconnect for every local socket, all in this tick (the
   * caller made sure no received event is left unanswered: its ack is queued before the
   * disconnect packet on the same connection). The client sees `io server disconnect` and
   * reconnects, to another node behind the load balancer. Then waits for the disconnect hooks.
   */
  async disconnectAll(timeoutMs: number): Promise<void> {
    for (const nsp of this.namespaces.values()) {
      for (const socket of [...nsp.sockets.values()]) socket.disconnect(true);
    }
    const deadline = Date.now() + timeoutMs;
    // Disconnect handlers start on the next ticks; wait for them, bounded.
    await new Promise((r) => setImmediate(r));
    while (this.pendingDisconnects.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.pendingDisconnects]),
        new Promise((r) => setTimeout(r, deadline - Date.now())),
      ]);
      await new Promise((r) => setImmediate(r));
    }
  }

  get servedEventNames(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.servedEvents;
  }

  isServed(ns: NamespaceName, event: ClientEventName): boolean {
    return this.servedEvents.get(ns)?.has(event) ?? false;
  }

  onApplicationShutdown(): void {
    this.expiries.clear();
  }
}
