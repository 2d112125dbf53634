import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { finalize, map, type Observable } from 'rxjs';
import { EventOutcomes } from './event-outcomes.js';
import { InFlightTracker } from './in-flight.js';
import type { AppSocket } from './socket.types.js';

export const EVENT_STARTED_AT = Symbol('eventStartedAt');

/**
 * Wraps a handler's result in `{ok: true, data}` and records the event name, user, organization,
 * duration and outcome (EventOutcomes) — never the payload. Failures are recorded by the
 * exception filter.
 */
@Injectable()
export class EventInterceptor implements NestInterceptor {
  constructor(
    private readonly outcomes: EventOutcomes,
    private readonly inFlight: InFlightTracker,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const started = performance.now();
    const args = context.getArgs<unknown[]>();
    (args as unknown as Record<symbol, number>)[EVENT_STARTED_AT] = started;
    const ws = context.switchToWs();
    const event = ws.getPattern();
    this.inFlight.begin();
    return next.handle().pipe(
      finalize(() => this.inFlight.end()),
      map((data: unknown) =>
        this.outcomes.succeeded(ws.getClient<AppSocket>(), event, started, data),
      ),
    );
  }
}
