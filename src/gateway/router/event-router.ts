import { CLIENT_EVENT_DTOS } from '../../protocol/dto/client-events.js';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { NamespaceName } from '../../protocol/constants.js';
import { NAMESPACE_EVENTS } from '../../protocol/events.js';
import { AppError } from '../../protocol/errors.js';
import { RateLimitService } from '../../rate-limit/rate-limit.service.js';
import { EventOutcomes } from '../event-outcomes.js';
import { InFlightTracker } from '../in-flight.js';
import { SilentDrop } from '../silent-drop.js';
import type { AppNamespace, AppServer, AppSocket } from '../socket.types.js';
import { validatePayload } from '../validation.js';
import {
  REALTIME_EVENT,
  RealtimeGateway,
  type RealtimeEventMetadata,
} from './realtime-event.decorator.js';

type Ack = (response: unknown) => void;
type Handler = (socket: AppSocket, body: unknown, hasAck: boolean) => unknown;

/** One row of a namespace's table: everything the pipeline needs, resolved once at start. */
export interface Route {
  readonly event: string;
  readonly instance: object;
  readonly handle: Handler;
  readonly dto: (new () => object) | null;
  readonly optionalPayload: boolean;
  readonly accepts: ((payload: unknown) => boolean) | undefined;
  /** undefined: not rate-limited. */
  readonly limit:
    { silent: boolean; override?: { maxTokens: number; refillIntervalMs: number } } | undefined;
  /** `Class.method`, for start-up errors. */
  readonly owner: string;
}

type Table = ReadonlyMap<string, Route>;
type SharedListener = (this: AppSocket, event: unknown, ...args: unknown[]) => void;

/**
 * The event pipeline the project owns, instead of Nest's `@SubscribeMessage` machinery.
 *
 * At start, every provider marked `@RealtimeGateway(...namespaces)` is found with Nest's
 * DiscoveryService and its `@RealtimeEvent` methods with the MetadataScanner, into one table per
 * namespace; two handlers for one event in one namespace, an event without a DTO decision, or a
 * table that differs from the contract's NAMESPACE_EVENTS fail the start. Each namespace is
 * served by one listener function shared by all its sockets (`onAny`, called with the socket as
 * `this`), so a connection holds nothing per handler.
 *
 * An event the namespace does not serve is answered BAD_REQUEST by the same listener (§11).
 * Every event takes the same path: refused at once while the node drains; else counted in flight
 * from receipt; on the next tick (events keep their order, as with Socket.IO's own listeners)
 * rate limit (before validation, §11) → validation (the fast check, else the DTO) → handler →
 * `{ok: true, data}` through the ack, or the contract's error object through the ack or an
 * `error` event → metrics and a debug line (EventOutcomes), never the payload.
 */
@Injectable()
export class EventRouter implements OnModuleInit {
  private tables?: ReadonlyMap<NamespaceName, Table>;
  private readonly served = new WeakSet<AppNamespace>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly limits: RateLimitService,
    private readonly outcomes: EventOutcomes,
    private readonly inFlight: InFlightTracker,
  ) {}

  /** Builds (and checks) the tables at start, so a wiring mistake fails `app.init()`. */
  onModuleInit(): void {
    this.routes();
  }

  /** The events served on a namespace (for tests and docs). */
  eventsOf(ns: NamespaceName): string[] {
    return [...(this.routes().get(ns)?.keys() ?? [])];
  }

  /**
   * Serves a namespace: each socket that connects gets the namespace's one shared listener.
   * Called by the adapter when a lifecycle gateway binds the namespace (idempotent).
   */
  serve(server: AppServer | AppNamespace): void {
    // Nest binds the root namespace through the Server itself.
    const nsp = 'of' in server ? server.of('/') : server;
    if (this.served.has(nsp)) return;
    this.served.add(nsp);
    const table = this.routes().get(nsp.name as NamespaceName) ?? new Map<string, Route>();
    const listener = this.listener(nsp.name, table);
    nsp.on('connection', (socket: AppSocket) => {
      socket.onAny(listener);
    });
  }

  private routes(): ReadonlyMap<NamespaceName, Table> {
    this.tables ??= this.explore();
    return this.tables;
  }

  private explore(): ReadonlyMap<NamespaceName, Table> {
    const tables = new Map<NamespaceName, Map<string, Route>>();
    for (const wrapper of this.discovery.getProviders({ metadataKey: RealtimeGateway.KEY })) {
      const name = wrapper.metatype?.name ?? String(wrapper.token);
      const instance = wrapper.instance as object | undefined;
      if (!instance || !wrapper.isDependencyTreeStatic())
        throw new Error(`${name}: a @RealtimeGateway must be a singleton provider`);
      const namespaces = this.discovery.getMetadataByDecorator(RealtimeGateway, wrapper) ?? [];
      if (namespaces.length === 0) throw new Error(`${name}: @RealtimeGateway names no namespace`);
      const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const key of this.scanner.getAllMethodNames(proto)) {
        const method = proto[key] as Handler;
        const meta = Reflect.getMetadata(REALTIME_EVENT, method) as
          RealtimeEventMetadata | undefined;
        if (!meta) continue;
        const route = this.routeOf(`${name}.${key}`, instance, method, meta);
        for (const ns of namespaces) {
          let table = tables.get(ns);
          if (!table) tables.set(ns, (table = new Map<string, Route>()));
          const taken = table.get(route.event);
          if (taken)
            throw new Error(
              `"${route.event}" on ${ns} has two handlers: ${taken.owner} and ${route.owner}`,
            );
          table.set(route.event, route);
        }
      }
    }
    this.checkAgainstContract(tables);
    return tables;
  }

  private routeOf(
    owner: string,
    instance: object,
    handle: Handler,
    meta: RealtimeEventMetadata,
  ): Route {
    // One DTO per event: the one CLIENT_EVENT_DTOS documents (and the docs are generated from).
    // `undefined` is a DTO class lost to an import cycle.
    const documented = CLIENT_EVENT_DTOS[meta.event];
    if (meta.dto !== documented)
      throw new Error(
        `${owner} (${meta.event}): validates with ${meta.dto?.name ?? String(meta.dto)}, but CLIENT_EVENT_DTOS documents ${documented?.name ?? 'no payload'}`,
      );
    const rl = meta.rateLimit ?? {};
    return {
      event: meta.event,
      instance,
      handle,
      dto: meta.dto,
      optionalPayload: meta.optionalPayload === true,
      accepts: meta.accepts,
      limit: rl.skip
        ? undefined
        : {
            silent: rl.silent === true,
            ...(rl.maxTokens && rl.refillIntervalMs
              ? { override: { maxTokens: rl.maxTokens, refillIntervalMs: rl.refillIntervalMs } }
              : {}),
          },
      owner,
    };
  }

  /** The tables must serve exactly the contract's events on each namespace. */
  private checkAgainstContract(tables: ReadonlyMap<NamespaceName, Table>): void {
    for (const [ns, events] of Object.entries(NAMESPACE_EVENTS) as Array<
      [NamespaceName, readonly string[]]
    >) {
      const table = tables.get(ns) ?? new Map<string, Route>();
      const missing = events.filter((e) => !table.has(e));
      const extra = [...table.keys()].filter((e) => !events.includes(e));
      if (missing.length > 0 || extra.length > 0)
        throw new Error(
          `realtime handlers on ${ns} differ from NAMESPACE_EVENTS: ` +
            `missing [${missing.join(', ')}], not in the contract [${extra.join(', ')}]`,
        );
    }
    for (const ns of tables.keys())
      if (!(ns in NAMESPACE_EVENTS))
        throw new Error(`realtime handlers on unknown namespace ${ns}`);
  }

  private listener(namespace: string, table: Table): SharedListener {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const router = this;
    const outcomes = this.outcomes;
    return function (this: AppSocket, event: unknown, ...args: unknown[]): void {
      const route = typeof event === 'string' ? table.get(event) : undefined;
      if (route !== undefined) return router.receive(this, route, args);
      const ack = args[args.length - 1];
      outcomes.unknown(
        this,
        namespace,
        event,
        typeof ack === 'function' ? (ack as Ack) : undefined,
      );
    };
  }

  /** On receipt: split payload and ack (as Nest's IoAdapter.mapPayload did), count, defer. */
  private receive(socket: AppSocket, route: Route, args: unknown[]): void {
    let n = args.length;
    let ack: Ack | undefined;
    if (n > 0 && typeof args[n - 1] === 'function') ack = args[--n] as Ack;
    // No argument → undefined, one → itself, several → the array.
    const data = n === 0 ? undefined : n === 1 ? args[0] : args.slice(0, n);
    // A draining node (SIGTERM) answers new events at once; the client retries elsewhere.
    if (this.inFlight.refusingNew)
      return this.outcomes.failed(
        socket,
        route.event,
        AppError.unavailable('Server is shutting down; retry'),
        ack,
      );
    // Counted from receipt, so a graceful stop waits for its answer.
    this.inFlight.begin();
    process.nextTick(startEvent, this, route, socket, data, ack);
  }

  /** The pipeline: rate limit → validate → handle → ack/error → metrics. */
  async run(route: Route, socket: AppSocket, data: unknown, ack: Ack | undefined): Promise<void> {
    const started = performance.now();
    try {
      const limit = route.limit;
      if (limit !== undefined) {
        const decision = await this.limits.consumeEvent(
          socket.data.user,
          route.event,
          limit.override,
        );
        if (!decision.allowed)
          throw limit.silent ? new SilentDrop() : AppError.rateLimited(decision.retryAfterMs);
      }
      const body =
        route.dto === null || route.accepts?.(data) === true
          ? data
          : validatePayload(route.dto, data, route.optionalPayload);
      const result = await route.handle.call(route.instance, socket, body, ack !== undefined);
      const envelope = this.outcomes.succeeded(socket, route.event, started, result);
      ack?.(envelope);
    } catch (err) {
      this.outcomes.failed(socket, route.event, err, ack, started);
    } finally {
      this.inFlight.end();
    }
  }

  /** For the deferred start: the socket may have gone meanwhile (then nothing is answered). */
  endUnstarted(): void {
    this.inFlight.end();
  }
}

function startEvent(
  router: EventRouter,
  route: Route,
  socket: AppSocket,
  data: unknown,
  ack: Ack | undefined,
): void {
  if (socket.disconnected) return router.endUnstarted();
  void router.run(route, socket, data, ack);
}
