import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { AppConfig } from '../config/config.js';
import { isOriginAllowed } from './origin.js';
import { HotEventRouter } from './hot-events.js';
import { installWebSocketCorking } from './ws-corking.js';
import type { AppServer, AppSocket } from './socket.types.js';

export type AdapterInstaller = (server: AppServer) => Promise<void> | void;

/**
 * Creates the one Socket.IO server of the app from config (ignoring gateway decorator options):
 * path, transports, heartbeat, payload limit, CORS and the HTTP-level Origin check. An optional
 * installer plugs in the cluster adapter (Redis) before any namespace is used.
 */
export class RealtimeIoAdapter extends IoAdapter {
  private server?: AppServer;
  private hotEvents?: HotEventRouter;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly onServer: (server: AppServer) => void,
  ) {
    super(app);
  }

  serverOptions(): Partial<ServerOptions> {
    const { ws, corsOrigins } = this.config;
    return {
      path: '/socket.io',
      transports: ['polling', 'websocket'],
      pingInterval: ws.pingIntervalMs,
      pingTimeout: ws.pingTimeoutMs,
      maxHttpBufferSize: ws.maxPayloadBytes,
      connectTimeout: 10_000,
      serveClient: false,
      cors: { origin: corsOrigins, credentials: true },
      allowRequest: (req, callback) => {
        const allowed = isOriginAllowed(req, corsOrigins);
        callback(allowed ? null : 'Origin not allowed', allowed);
      },
      // Never recover sessions without running the handshake middleware again (§3).
      connectionStateRecovery: undefined,
      perMessageDeflate: false,
    };
  }

  override createIOServer(port: number, _options?: ServerOptions): AppServer {
    if (this.server) return this.server;
    installWebSocketCorking();
    const options = this.serverOptions();
    const server: AppServer =
      this.httpServer && port === 0
        ? new Server(this.httpServer as import('node:http').Server, options)
        : new Server(port, options);
    this.server = server;
    this.onServer(server);
    return server;
  }

  /**
   * Binds each handler as one plain listener. Nest's default builds an rxjs chain per handler per
   * socket (fromEvent → mergeMap → takeUntil → subscribe): with some twenty handlers that was
   * most of the ≈100 KiB of heap each idle connection cost, and an Observable pipeline per event.
   * Semantics are the same: the handler result (value, promise or observable from interceptors)
   * is sent through the ack unless the handler acks by itself; errors were already turned into
   * `{ok: false, error}` by the exception filter inside `callback`. The hot events (HotEventRouter)
   * are served beside them by one shared listener per namespace.
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: (MessageMappingProperties & { isAckHandledManually?: boolean })[],
    _transform: (data: unknown) => Observable<unknown>,
  ): void {
    this.hotEvents ??= this.app.get(HotEventRouter, { strict: false });
    this.hotEvents.attach(socket as AppSocket);
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(message as string, (...args: unknown[]) => {
        // As rxjs fromEvent did: no argument → undefined, one → itself, several → the array.
        const payload = args.length === 0 ? undefined : args.length === 1 ? args[0] : args;
        const mapped = this.mapPayload(payload) as { data: unknown; ack?: (r: unknown) => void };
        void this.dispatch(
          callback,
          mapped.data,
          mapped.ack,
          isAckHandledManually === true,
          socket,
        );
      });
    }
  }

  private async dispatch(
    callback: (...args: unknown[]) => unknown,
    data: unknown,
    ack: ((response: unknown) => void) | undefined,
    ackHandledManually: boolean,
    socket: Socket,
  ): Promise<void> {
    try {
      let result: unknown = await callback(data, ack);
      if (isObservable(result)) result = await lastValueFrom(result, { defaultValue: undefined });
      if (result === undefined || result === null) return;
      const response = result as { event?: string; data?: unknown };
      if (typeof response.event === 'string') {
        socket.emit(response.event, response.data);
      } else if (!ackHandledManually && typeof ack === 'function') {
        ack(result);
      }
    } catch (err) {
      // The exception filter answers the client; anything reaching here is a bug in a filter.
      RealtimeIoAdapter.logger.error(
        `handler failed outside the exception filter: ${(err as Error)?.name}`,
      );
    }
  }

  private static readonly logger = new Logger('RealtimeIoAdapter');
}
