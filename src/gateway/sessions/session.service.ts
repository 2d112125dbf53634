import { Injectable } from '@nestjs/common';
import type { AppNamespace, AppSocket } from '../socket.types.js';
import type { NamespaceName } from '../../protocol/constants.js';
import { ConnectionLifecycle } from './connection-lifecycle.service.js';
import { DrainService } from './drain.service.js';
import { HandshakeService } from './handshake.service.js';
import { SessionExpiry } from './session-expiry.service.js';
import type { SessionHook } from '../publisher/session-hooks.js';

/**
 * The sessions layer as the gateways and modules use it: one entry point over its parts —
 * HandshakeService (middleware: token, checks, limits, cap), ConnectionLifecycle (§4 sequence,
 * hooks, disconnect, unknown events), SessionExpiry (deadline, `auth:refresh`) and DrainService
 * (graceful shutdown). It holds no state of its own. Checks on tokens (revocation) register
 * with CredentialChecks (auth/).
 */
@Injectable()
export class SessionService {
  constructor(
    private readonly handshake: HandshakeService,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly expiry: SessionExpiry,
    private readonly drain: DrainService,
  ) {}

  /**
   * A connect/disconnect hook that is not a provider (tests). Modules declare theirs as
   * `@ConnectionHook` providers, found at start.
   */
  registerHook(hook: SessionHook): void {
    this.lifecycle.registerHook(hook);
  }

  /** Called from each gateway's afterInit: installs the handshake middleware once per namespace. */
  install(nsp: AppNamespace): void {
    this.handshake.install(nsp);
  }

  /** Called from the gateways' handleConnection. */
  onConnection(socket: AppSocket, ns: NamespaceName): Promise<void> {
    return this.lifecycle.onConnection(socket, ns);
  }

  onDisconnect(socket: AppSocket, ns: NamespaceName, reason: string): Promise<void> {
    return this.lifecycle.onDisconnect(socket, ns, reason);
  }

  /** `auth:refresh`. */
  refresh(socket: AppSocket, token: string): Promise<{ expiresAt: string }> {
    return this.expiry.refresh(socket, token);
  }

  /** Graceful shutdown: refuse new handshakes. */
  startDraining(): void {
    this.drain.start();
  }

  /** Graceful shutdown (§12.8): a server disconnect for every local socket, then the hooks. */
  disconnectAll(timeoutMs: number): Promise<void> {
    return this.drain.disconnectAll(timeoutMs);
  }
}
