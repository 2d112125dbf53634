import type { AppSocket } from '../gateway/socket.types.js';
import type { MetricsService } from '../observability/metrics.service.js';
import type { NamespaceName } from '../protocol/constants.js';
import { NAMESPACE_EVENTS } from '../protocol/events.js';
import { AppError, toErrorObject } from '../protocol/errors.js';

type Guard = (event: unknown, ...args: unknown[]) => void;

/**
 * An event name the namespace does not serve answers BAD_REQUEST (§11): through the ack when
 * there is one, else as an `error` event. One listener per namespace, shared by its sockets
 * (Socket.IO calls `onAny` listeners with the socket as `this`), so a connection costs no
 * closure of its own.
 */
export class UnknownEventGuards {
  private readonly guards = new Map<NamespaceName, Guard>();
  private readonly served = new Map<string, Set<string>>(
    Object.entries(NAMESPACE_EVENTS).map(([ns, evs]) => [ns, new Set<string>(evs)]),
  );

  constructor(private readonly metrics: MetricsService) {}

  install(socket: AppSocket, ns: NamespaceName): void {
    let guard = this.guards.get(ns);
    if (!guard) this.guards.set(ns, (guard = this.guard(ns)));
    socket.onAny(guard);
  }

  private guard(ns: NamespaceName): Guard {
    const served = this.served.get(ns) ?? new Set<string>();
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
}
