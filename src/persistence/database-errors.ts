import { Injectable, Optional } from '@nestjs/common';
import { DependencyLog } from '../observability/dependency-log.js';
import { errorFields } from '../observability/error-fields.js';
import type { AppError } from '../protocol/errors.js';
import { toAppError } from './sqlstate.js';

/**
 * Turns a failed statement into the AppError a service passes on (persistence/sqlstate.ts), and
 * reports a database that failed (not a refused value or a repeated key: those are the client's)
 * to the node's DependencyLog: at most one line per operation per 5 s, with the error's class,
 * SQLSTATE and constraint only — never the message, which quotes the query's parameters (§12.3).
 * Repositories and the TransactionRunner run their statements through `run`; services see
 * AppErrors only.
 */
@Injectable()
export class DatabaseErrors {
  // Optional so that code building repositories by hand (tests) needs nothing more.
  constructor(@Optional() private readonly dependencyLog?: DependencyLog) {}

  /** The answer for `err`; a database failure is logged under `operation`. */
  map(operation: string, err: unknown): AppError {
    const answer = toAppError(err);
    if (answer !== err && answer.type === 'SERVICE_UNAVAILABLE')
      this.dependencyLog?.failed('database', operation, err, { ...errorFields(err) });
    return answer;
  }

  /** Runs `fn`; whatever it throws leaves as an AppError (see `map`). */
  async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.map(operation, err);
    }
  }
}
