import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MetricsService } from '../observability/metrics.service.js';
import { errorFields, isDatabaseError } from '../observability/error-fields.js';
import { databaseAnswer } from '../persistence/sqlstate.js';
import { AppError, toErrorObject, type ErrorObject } from '../protocol/errors.js';
import { SilentDrop } from './silent-drop.js';
import type { AppSocket } from './socket.types.js';

/**
 * Records the outcome of a client event (metrics, a debug line with ids and duration — never the
 * payload) and builds its answer: every outcome of the EventRouter's pipeline — handled,
 * refused, failed, refused while draining, and an event the namespace does not serve — is
 * answered and counted here.
 */
@Injectable()
export class EventOutcomes {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('ws') private readonly logger: PinoLogger,
  ) {}

  /** A handled event: recorded, and its `{ok: true, data}` envelope returned for the ack. */
  succeeded(
    socket: AppSocket,
    event: string,
    startedAt: number,
    data: unknown,
  ): { ok: true; data: unknown } {
    const seconds = (performance.now() - startedAt) / 1000;
    this.metrics.events.inc({ event, outcome: 'ok' });
    this.metrics.eventDuration.observe({ event }, seconds);
    if (this.logger.logger.isLevelEnabled('debug')) {
      const user = socket.data.user;
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
  }

  /**
   * An event name the namespace does not serve: BAD_REQUEST (§11), through the ack when there is
   * one, else as an `error` event. Counted under the one label `unknown` (a client-chosen name
   * must not become a metric label); the name, cut to 64 characters, is in `details.event`.
   */
  unknown(
    socket: AppSocket,
    namespace: string,
    event: unknown,
    ack: ((response: unknown) => void) | undefined,
  ): void {
    const name = typeof event === 'string' ? event.slice(0, 64) : 'unknown';
    const error = toErrorObject(AppError.badRequest(`Unknown event for namespace ${namespace}`), {
      event: name,
    });
    this.metrics.events.inc({ event: 'unknown', outcome: 'BAD_REQUEST' });
    sendError(socket, ack, error);
  }

  /**
   * A failed event, answered with the contract's error object: `{ok: false, error}` through the
   * ack, or an `error` event when the client gave no ack. Never echoes the payload; unknown errors
   * become a generic INTERNAL_ERROR and are logged by class and stack frames only.
   */
  failed(
    socket: AppSocket,
    event: string,
    exception: unknown,
    ack: ((response: unknown) => void) | undefined,
    startedAt?: number,
  ): void {
    if (exception instanceof SilentDrop) {
      this.metrics.events.inc({ event, outcome: 'dropped' });
      ack?.({ ok: true, data: {} });
      return;
    }
    // A database refusal or lost connection that no service mapped (§12.3): see databaseAnswer.
    const answer =
      !(exception instanceof AppError) && isDatabaseError(exception)
        ? databaseAnswer(exception)
        : exception;
    const error = toErrorObject(answer, { event, production: this.config.isProduction });
    this.metrics.events.inc({ event, outcome: error.type });
    if (typeof startedAt === 'number')
      this.metrics.eventDuration.observe({ event }, (performance.now() - startedAt) / 1000);
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
      // The error class, SQLSTATE, constraint and stack frames only: driver messages quote values.
      this.logger.error({ ...fields, ...errorFields(exception) }, 'event failed');
    }
    sendError(socket, ack, error);
  }
}

/** `{ok: false, error}` through the ack, or an `error` event when the client gave no ack. */
function sendError(
  socket: AppSocket,
  ack: ((response: unknown) => void) | undefined,
  error: ErrorObject,
): void {
  if (ack) ack({ ok: false, error });
  else socket.emit('error', error);
}
