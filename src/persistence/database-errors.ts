import { Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { DependencyLog } from '../observability/dependency-log.js';
import { errorFields } from '../observability/error-fields.js';
import { ThrottledLog } from '../observability/throttled-log.js';
import type { AppError } from '../protocol/errors.js';
import { toAppError } from './sqlstate.js';

/**
 * Turns a failed statement into the AppError a service passes on (persistence/sqlstate.ts) and
 * logs it by class, SQLSTATE and constraint only — never the message, which quotes the query's
 * parameters (§12.3). A database that failed (SERVICE_UNAVAILABLE) goes to the node's
 * DependencyLog (error, at most one line per operation per 5 s); a value the database refused or
 * a repeated key (the client's input, but one that passed validation) is a warning, throttled
 * the same way. Repositories and the TransactionRunner run their statements through `run`;
 * services see AppErrors only.
 */
@Injectable()
export class DatabaseErrors implements OnApplicationShutdown {
  private readonly refusals = new ThrottledLog(5000);

  // Optional so that code building repositories by hand (tests) needs nothing more.
  constructor(
    @Optional() private readonly dependencyLog?: DependencyLog,
    @Optional() @InjectPinoLogger('database') private readonly logger?: PinoLogger,
  ) {}

  /**
   * The answer for `err`; a database error is logged under `operation`, with `extra` (ids and
   * counts only) on the line.
   */
  map(operation: string, err: unknown, extra: Record<string, number | string> = {}): AppError {
    const answer = toAppError(err);
    if (answer === err) return answer;
    const fields = { operation, outcome: answer.type, ...errorFields(err), ...extra };
    if (answer.type === 'SERVICE_UNAVAILABLE')
      this.dependencyLog?.failed('database', operation, err, fields);
    else if (this.logger) {
      const logger = this.logger;
      this.refusals.report(
        `database-refused:${operation}`,
        (f, m) => logger.warn(f, m),
        fields,
        `database refused ${operation}`,
      );
    }
    return answer;
  }

  /** Runs `fn`; whatever it throws leaves as an AppError (see `map`). */
  async run<T>(
    operation: string,
    fn: () => Promise<T>,
    extra?: Record<string, number | string>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.map(operation, err, extra);
    }
  }

  onApplicationShutdown(): void {
    this.refusals.close();
  }
}
