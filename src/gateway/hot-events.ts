import { Injectable } from '@nestjs/common';
import type { NamespaceName } from '../protocol/constants.js';
import type { ClientAckData, ClientEventName, ClientPayload } from '../protocol/events.js';
import { AppError } from '../protocol/errors.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { EventOutcomes } from './event-outcomes.js';
import { InFlightTracker } from './in-flight.js';
import type { AppSocket } from './socket.types.js';
import { validatePayload } from './validation.js';

/** One event served on the lean path: a fast acceptance check, its DTO, and the handler. */
export interface HotRoute<E extends ClientEventName> {
  /** The DTO whose validation answers every payload the fast check does not accept. */
  dto: new () => object;
  /** True only for payloads the DTO certainly accepts (see `isValidMessageSend`). */
  accepts(payload: unknown): payload is ClientPayload<E>;
  handle(socket: AppSocket, body: ClientPayload<E>): Promise<ClientAckData<E>>;
}

export type AnyRoute = HotRoute<ClientEventName>;
type Ack = (response: unknown) => void;

/**
 * The lean path for the hottest client events (`message:send`). Same pipeline and answers as the
 * Nest gateway path — rate limit (before validation, §11) → validation → handler →
 * `{ok: true, data}`, outcomes (metrics, log, error object) through EventOutcomes as the
 * interceptor and exception filter record them, in-flight tracking —
 * without Nest's per-event execution context, rxjs interceptor chain and class-validator pass
 * for valid payloads, which together cost about a fifth of the server's CPU per chat message.
 *
 * Routes are served from the adapter's handler table of their namespace, beside the gateways'
 * handlers (RealtimeIoAdapter.bindSharedHandlers): one shared listener, no closure per
 * connection, same ordering.
 */
@Injectable()
export class HotEventRouter {
  private readonly routes = new Map<NamespaceName, Map<string, AnyRoute>>();

  constructor(
    private readonly limits: RateLimitService,
    private readonly inFlight: InFlightTracker,
    private readonly outcomes: EventOutcomes,
  ) {}

  register<E extends ClientEventName>(ns: NamespaceName, event: E, route: HotRoute<E>): void {
    let table = this.routes.get(ns);
    if (!table) {
      table = new Map();
      this.routes.set(ns, table);
    }
    table.set(event, route);
  }

  /** The namespace's routes, served by the adapter's shared handler table. */
  routesFor(ns: string): ReadonlyMap<string, AnyRoute> {
    return this.routes.get(ns as NamespaceName) ?? new Map();
  }

  /** One event through the pipeline; the answer goes through the ack or an `error` event. */
  async run(
    socket: AppSocket,
    event: string,
    route: AnyRoute,
    payload: unknown,
    ack: Ack | undefined,
  ): Promise<void> {
    const started = performance.now();
    this.inFlight.begin();
    try {
      const decision = await this.limits.consumeEvent(socket.data.user, event);
      if (!decision.allowed) throw AppError.rateLimited(decision.retryAfterMs);
      const body = route.accepts(payload)
        ? payload
        : (validatePayload(route.dto, payload) as ClientPayload<ClientEventName>);
      const data = await route.handle(socket, body);
      const envelope = this.outcomes.succeeded(socket, event, started, data);
      ack?.(envelope);
    } catch (err) {
      this.outcomes.failed(socket, event, err, ack, started);
    } finally {
      this.inFlight.end();
    }
  }
}
