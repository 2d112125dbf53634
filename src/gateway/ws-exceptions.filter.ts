import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { EventOutcomes } from './event-outcomes.js';
import { EVENT_STARTED_AT } from './event.interceptor.js';
import type { AppSocket } from './socket.types.js';

/**
 * Maps every error of a handler (guard, pipe or service) to the contract's error object through
 * EventOutcomes: `{ok: false, error}` through the ack, or an `error` event.
 */
@Catch()
export class WsExceptionsFilter implements ExceptionFilter {
  constructor(private readonly outcomes: EventOutcomes) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const args = host.getArgs<unknown[]>();
    const ack = args.find((a, i) => i > 0 && typeof a === 'function') as
      ((r: unknown) => void) | undefined;
    const started = (args as unknown as Record<symbol, number>)[EVENT_STARTED_AT];
    this.outcomes.failed(
      args[0] as AppSocket,
      host.switchToWs().getPattern(),
      exception,
      ack,
      started,
    );
  }
}
