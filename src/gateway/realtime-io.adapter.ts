import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/config.js';
import { isOriginAllowed } from './origin.js';
import { EventRouter } from './router/event-router.js';
import { finishEngine, prepareEngine } from './engine/engine.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { AppNamespace, AppServer } from './socket.types.js';

const DISCONNECT_CALLBACKS = Symbol('disconnectCallbacks');

/** One listener for every socket: runs the socket's gateway disconnect callbacks (`this` is the socket). */
function onSocketDisconnect(this: Socket, reason: string): void {
  const list = (this as unknown as Record<symbol, Array<(r: string) => void> | undefined>)[
    DISCONNECT_CALLBACKS
  ];
  if (!list) return;
  for (const callback of list) callback(reason);
}

export type AdapterInstaller = (server: AppServer) => Promise<void> | void;

/**
 * Creates the one Socket.IO server of the app from config (ignoring gateway decorator options):
 * path, transports, heartbeat, payload limit, CORS and the HTTP-level Origin check. An optional
 * installer plugs in the cluster adapter (Redis) before any namespace is used.
 */
export class RealtimeIoAdapter extends IoAdapter {
  private server?: AppServer;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly onServer: (server: AppServer) => void,
    /** Called for each handshake refused for its Origin (logged by the caller). */
    private readonly onOriginRefused?: (req: IncomingMessage) => void,
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
      // WS_CONNECT_TIMEOUT_MS: a connection that joins no namespace in time is closed (§12.3).
      connectTimeout: ws.connectTimeoutMs,
      serveClient: false,
      cors: { origin: corsOrigins, credentials: true },
      allowRequest: (req, callback) => {
        const allowed = isOriginAllowed(req, corsOrigins);
        if (!allowed) this.onOriginRefused?.(req);
        // The 403 body says why (the SDK surfaces it), without echoing the origin.
        callback(allowed ? null : 'Origin not allowed (see CORS_ORIGIN)', allowed);
      },
      // Never recover sessions without running the handshake middleware again (§3).
      connectionStateRecovery: undefined,
      perMessageDeflate: false,
    };
  }

  override createIOServer(port: number, _options?: ServerOptions): AppServer {
    if (this.server) return this.server;
    const options = { ...this.serverOptions(), adapter: prepareEngine() };
    const server: AppServer =
      this.httpServer && port === 0
        ? new Server(this.httpServer as import('node:http').Server, options)
        : new Server(port, options);
    this.server = server;
    this.onServer(server);
    const metrics = this.app.get(MetricsService, { strict: false });
    finishEngine(server, {
      maxBufferedBytes: this.config.ws.maxBufferedBytes,
      onDrop: (bufferedBytes) => {
        metrics.slowConsumersDropped.inc();
        RealtimeIoAdapter.logger.warn(`slow consumer disconnected (${bufferedBytes} bytes queued)`);
      },
    });
    return server;
  }

  /**
   * A lifecycle gateway (RootGateway, CommunicationGateway) binds its namespace: the EventRouter
   * serves the namespace's client events from then on (one shared listener per socket).
   */
  override bindClientConnect(
    nsp: AppServer | AppNamespace,
    callback: (...args: unknown[]) => void,
  ): void {
    this.app.get(EventRouter, { strict: false }).serve(nsp);
    super.bindClientConnect(nsp, callback);
  }

  /**
   * Client events are served by the EventRouter (`@RealtimeEvent`), never by Nest's per-socket
   * `@SubscribeMessage` binding: a gateway that declares one fails the connection loudly.
   */
  override bindMessageHandlers(
    _socket: Socket,
    handlers: MessageMappingProperties[],
    _transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (handlers.length > 0)
      throw new Error(
        `@SubscribeMessage('${String(handlers[0].message)}') is not served: use @RealtimeEvent`,
      );
  }

  /** Disconnect callbacks of the socket's gateways, called by one shared listener. */
  override bindClientDisconnect(client: Socket, callback: (reason: string) => void): void {
    const holder = client as unknown as Record<symbol, Array<(reason: string) => void>>;
    const list = holder[DISCONNECT_CALLBACKS];
    if (list) {
      list.push(callback);
      return;
    }
    holder[DISCONNECT_CALLBACKS] = [callback];
    client.on('disconnect', onSocketDisconnect);
  }

  private static readonly logger = new Logger('RealtimeIoAdapter');
}
