import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { isObservable, lastValueFrom } from 'rxjs';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/config.js';
import { isOriginAllowed } from './origin.js';
import { AppError, toErrorObject } from '../protocol/errors.js';
import { HotEventRouter } from './hot-events.js';
import { InFlightTracker } from './in-flight.js';
import {
  installSharedHandlerBinding,
  type GatewaySubscriber,
  type SharedHandlerAdapter,
} from './shared-handler-binding.js';
import { installWebSocketCorking } from './ws-corking.js';
import { installSlowConsumerGuard } from './slow-consumer.js';
import { MetricsService } from '../observability/metrics.service.js';
import { installDeliveryGuard } from '../sessions/delivery-guard.js';
import type { AppServer, AppSocket } from './socket.types.js';

type Ack = (response: unknown) => void;

interface SharedHandler {
  instance: object;
  /** Called as `callback.call(instance, socket, data, ack)`, as Nest's bound callbacks were. */
  callback: (socket: Socket, data: unknown, ack?: Ack) => unknown;
  ackHandledManually: boolean;
}

interface HandlerTable {
  handlers: Map<string, SharedHandler>;
  /** The subscriber lists already in the table (one per gateway). */
  bound: WeakSet<GatewaySubscriber[]>;
  listener: (event: unknown, ...args: unknown[]) => void;
}

const DISCONNECT_CALLBACKS = Symbol('disconnectCallbacks');

/** One listener for every socket: runs the socket's gateway disconnect callbacks (`this` is the socket). */
function onSocketDisconnect(this: Socket, reason: string): void {
  const list = (this as unknown as Record<symbol, Array<(r: string) => void> | undefined>)[
    DISCONNECT_CALLBACKS
  ];
  if (!list) return;
  for (const callback of list) callback(reason);
}

/** SERVICE_UNAVAILABLE for an event received while the node drains: through the ack, else an `error` event. */
function refuseDraining(socket: Socket, event: string, ack?: (r: unknown) => void): void {
  const error = toErrorObject(AppError.unavailable('Server is shutting down; retry'), {
    event: event.slice(0, 64),
  });
  if (typeof ack === 'function') ack({ ok: false, error });
  else socket.emit('error', error);
}

export type AdapterInstaller = (server: AppServer) => Promise<void> | void;

/**
 * Creates the one Socket.IO server of the app from config (ignoring gateway decorator options):
 * path, transports, heartbeat, payload limit, CORS and the HTTP-level Origin check. An optional
 * installer plugs in the cluster adapter (Redis) before any namespace is used.
 */
export class RealtimeIoAdapter extends IoAdapter implements SharedHandlerAdapter {
  private server?: AppServer;
  private readonly tables = new Map<string, HandlerTable>();
  private inFlightTracker?: InFlightTracker;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly onServer: (server: AppServer) => void,
    /** Called for each handshake refused for its Origin (logged by the caller). */
    private readonly onOriginRefused?: (req: IncomingMessage) => void,
  ) {
    super(app);
    installSharedHandlerBinding();
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
    installWebSocketCorking();
    installDeliveryGuard();
    const options = this.serverOptions();
    const server: AppServer =
      this.httpServer && port === 0
        ? new Server(this.httpServer as import('node:http').Server, options)
        : new Server(port, options);
    this.server = server;
    const metrics = this.app.get(MetricsService, { strict: false });
    installSlowConsumerGuard(server.engine, {
      maxBufferedBytes: this.config.ws.maxBufferedBytes,
      onDrop: (bufferedBytes) => {
        metrics.slowConsumersDropped.inc();
        RealtimeIoAdapter.logger.warn(`slow consumer disconnected (${bufferedBytes} bytes queued)`);
      },
    });
    this.onServer(server);
    return server;
  }

  /**
   * Serves a gateway's handlers from one table per namespace and one listener shared by all its
   * sockets (`onAny` calls it with the socket as `this`), so a connection holds no handler of its
   * own (see installSharedHandlerBinding). The handler starts on the next tick, as Socket.IO's
   * own listeners do, so events keep their order. Semantics are Nest's: the handler result
   * (value, promise or observable from interceptors) is sent through the ack unless the handler
   * acks by itself; errors were already turned into `{ok: false, error}` by the exception filter
   * inside the pipeline. The hot events (HotEventRouter) are entries of the same table; they ack
   * by themselves.
   */
  bindSharedHandlers(client: Socket, instance: object, subscribers: GatewaySubscriber[]): void {
    const table = this.tableFor(client.nsp.name);
    if (!table.bound.has(subscribers)) {
      for (const { message, callback, isAckHandledManually } of subscribers)
        this.addHandler(table, String(message), {
          instance,
          callback,
          ackHandledManually: isAckHandledManually === true,
        });
      table.bound.add(subscribers);
    }
    if (!client.listenersAny().includes(table.listener)) client.onAny(table.listener);
  }

  /** The namespace's table, created with its hot routes (HotEventRouter) on first use. */
  private tableFor(ns: string): HandlerTable {
    let table = this.tables.get(ns);
    if (table) return table;
    const handlers = new Map<string, SharedHandler>();
    table = { handlers, bound: new WeakSet(), listener: this.sharedListener(handlers) };
    this.tables.set(ns, table);
    const router = this.app.get(HotEventRouter, { strict: false });
    for (const [event, route] of router.routesFor(ns))
      this.addHandler(table, event, {
        instance: router,
        callback: (socket, data, ack) => router.run(socket as AppSocket, event, route, data, ack),
        ackHandledManually: true,
      });
    return table;
  }

  private addHandler(table: HandlerTable, event: string, handler: SharedHandler): void {
    if (table.handlers.has(event)) throw new Error(`two handlers for "${event}" in one namespace`);
    table.handlers.set(event, handler);
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

  private get inFlight(): InFlightTracker {
    this.inFlightTracker ??= this.app.get(InFlightTracker, { strict: false });
    return this.inFlightTracker;
  }

  private sharedListener(
    handlers: Map<string, SharedHandler>,
  ): (event: unknown, ...args: unknown[]) => void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const adapter = this;
    return function (this: Socket, event: unknown, ...args: unknown[]): void {
      if (typeof event !== 'string') return;
      const handler = handlers.get(event);
      if (!handler) return;
      // As Nest's IoAdapter: no argument → undefined, one → itself, several → the array.
      const payload = args.length === 0 ? undefined : args.length === 1 ? args[0] : args;
      const mapped = adapter.mapPayload(payload) as { data: unknown; ack?: (r: unknown) => void };
      const inFlight = adapter.inFlight;
      // A draining node (SIGTERM) answers new events at once; the client retries elsewhere.
      if (inFlight.refusingNew) return refuseDraining(this, event, mapped.ack);
      // Counted from receipt, so a graceful stop waits for its answer (guards included).
      inFlight.begin();
      process.nextTick(() => {
        if (this.disconnected) {
          inFlight.end();
          return;
        }
        void adapter.dispatch(handler, this, mapped.data, mapped.ack).finally(() => inFlight.end());
      });
    };
  }

  private async dispatch(
    handler: SharedHandler,
    socket: Socket,
    data: unknown,
    ack: ((response: unknown) => void) | undefined,
  ): Promise<void> {
    try {
      let result: unknown = await handler.callback.call(handler.instance, socket, data, ack);
      if (isObservable(result)) result = await lastValueFrom(result, { defaultValue: undefined });
      if (result === undefined || result === null) return;
      const response = result as { event?: string; data?: unknown };
      if (typeof response.event === 'string') {
        socket.emit(response.event, response.data);
      } else if (!handler.ackHandledManually && typeof ack === 'function') {
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
