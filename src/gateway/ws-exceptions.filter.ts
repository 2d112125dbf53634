import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { AppError, toErrorObject } from '../protocol/errors.js';
import { SilentDrop } from './silent-drop.js';
import type { AppSocket } from './socket.types.js';
import { EVENT_STARTED_AT } from './event.interceptor.js';

/**
 * Maps every error of a handler (guard, pipe or service) to the contract's error object:
 * `{ok: false, error}` through the ack, or an `error` event when the client gave no ack.
 * Never echoes the payload; unknown errors become a generic INTERNAL_ERROR.
 */
@Catch()
export class WsExceptionsFilter implements ExceptionFilter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('ws') private readonly logger: PinoLogger,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const args = host.getArgs<unknown[]>();
    const socket = args[0] as AppSocket;
    const ack = args.find((a, i) => i > 0 && typeof a === 'function') as
      ((r: unknown) => void) | undefined;
    const event = host.switchToWs().getPattern();
    const started = (args as unknown as Record<symbol, number>)[EVENT_STARTED_AT];
    if (exception instanceof SilentDrop) {
      this.metrics.events.inc({ event, outcome: 'dropped' });
      ack?.({ ok: true, data: {} });
      return;
    }
    const error = toErrorObject(exception, { event, production: this.config.isProduction });
    this.metrics.events.inc({ event, outcome: error.type });
    if (typeof started === 'number')
      this.metrics.eventDuration.observe({ event }, (performance.now() - started) / 1000);
    const user = socket.data?.user;
    const fields = {
      event,
      userId: user?.userId,
      organizationId: user?.organizationId,
      outcome: error.type,
    };
    if (exception instanceof AppError) {
      this.logger.debug(fields, 'event refused');
    } else {
      // Log the error class and stack frames only: driver messages can quote values.
      const e = exception as Error | undefined;
      this.logger.error(
        { ...fields, errorName: e?.name, stack: e?.stack?.split('\n').slice(1, 8).join('\n') },
        'event failed',
      );
    }
    if (ack) ack({ ok: false, error });
    else socket.emit('error', error);
  }
}
