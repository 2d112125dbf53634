import {
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { Inject } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, describeConfig, type AppConfig } from '../config/config.js';
import { AuthRefreshDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import type { NamespaceName } from '../protocol/constants.js';
import { closeDeliveryGuard, openDeliveryGuard } from './engine/delivery-guard.js';
import { SessionService } from './sessions/session.service.js';
import { RealtimeEvent, RealtimeGateway } from './router/realtime-event.decorator.js';
import type { AppNamespace, AppServer, AppSocket } from './socket.types.js';

/**
 * Lifecycle of a namespace (Nest gateway hooks: handshake middleware, §4 connection sequence,
 * disconnect) and the events both namespaces serve: `ping` and `auth:refresh`.
 */
abstract class CoreGatewayBase implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  protected abstract readonly namespace: NamespaceName;

  constructor(
    protected readonly sessions: SessionService,
    protected readonly config: AppConfig,
    protected readonly logger: PinoLogger,
  ) {}

  afterInit(server: AppServer | AppNamespace): void {
    const nsp = 'of' in server ? server.of('/') : server;
    this.sessions.install(nsp);
    if (this.namespace !== '/') return;
    this.logger.debug({ config: describeConfig(this.config) }, 'realtime gateway ready');
    // §12.3: a forced demo (or one refused in production) is announced at every start.
    if (this.config.demoWarning === 'forced')
      this.logger.warn(
        'DEMO_ENABLED=true: the demo page and POST /demo/token are on; anyone who can reach this ' +
          'server can mint tokens for any user, role and organization. Never use this outside a demo.',
      );
    else if (this.config.demoWarning === 'refused-in-production')
      this.logger.warn('DEMO_ENABLED=true is ignored in production: no demo page, no /demo/token');
  }

  /**
   * §4, guarded for §12.4: from before the socket joins its rooms until its connect hooks are
   * done, what reaches it is recorded so the replay does not send it again (delivery-guard.ts).
   */
  async handleConnection(socket: AppSocket): Promise<void> {
    openDeliveryGuard(socket);
    try {
      await this.sessions.onConnection(socket, this.namespace);
    } finally {
      closeDeliveryGuard(socket);
    }
  }

  handleDisconnect(socket: AppSocket, reason: string): Promise<void> {
    return this.sessions.onDisconnect(socket, this.namespace, reason);
  }

  @RealtimeEvent('ping')
  ping(socket: AppSocket, _body: unknown, hasAck: boolean): ClientAckData<'ping'> | undefined {
    const serverTime = new Date().toISOString();
    if (!hasAck) {
      socket.emit('pong', { serverTime });
      return undefined;
    }
    return { pong: true, serverTime };
  }

  @RealtimeEvent('auth:refresh')
  refresh(socket: AppSocket, body: AuthRefreshDto): Promise<ClientAckData<'auth:refresh'>> {
    return this.sessions.refresh(socket, body.token);
  }
}

@WebSocketGateway()
@RealtimeGateway(['/'])
export class RootGateway extends CoreGatewayBase {
  protected readonly namespace = '/' as const;

  constructor(
    sessions: SessionService,
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectPinoLogger('gateway') logger: PinoLogger,
  ) {
    super(sessions, config, logger);
  }
}

@WebSocketGateway({ namespace: '/communication' })
@RealtimeGateway(['/communication'])
export class CommunicationGateway extends CoreGatewayBase {
  protected readonly namespace = '/communication' as const;

  constructor(
    sessions: SessionService,
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectPinoLogger('gateway') logger: PinoLogger,
  ) {
    super(sessions, config, logger);
  }
}
