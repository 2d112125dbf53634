import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { finalize, map, type Observable } from 'rxjs';
import { MetricsService } from '../observability/metrics.service.js';
import { InFlightTracker } from './in-flight.js';
import type { AppSocket } from './socket.types.js';

export const EVENT_STARTED_AT = Symbol('eventStartedAt');

/**
 * Wraps a handler's result in `{ok: true, data}` and records the event name, user, organization,
 * duration and outcome — never the payload. Failures are recorded by the exception filter.
 */
@Injectable()
export class EventInterceptor implements NestInterceptor {
  constructor(
    private readonly metrics: MetricsService,
    @InjectPinoLogger('ws') private readonly logger: PinoLogger,
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
      map((data: unknown) => {
        const seconds = (performance.now() - started) / 1000;
        this.metrics.events.inc({ event, outcome: 'ok' });
        this.metrics.eventDuration.observe({ event }, seconds);
        if (this.logger.logger.isLevelEnabled('debug')) {
          const user = ws.getClient<AppSocket>().data.user;
          this.logger.debug(
            {
              event,
              userId: user.userId,
              organizationId: user.organizationId,
              ms: seconds * 1000,
              outcome: 'ok',
            },
            'event handled',
          );
        }
        return { ok: true, data: data ?? {} };
      }),
    );
  }
}
