import { sqlStateOf } from '../observability/error-fields.js';
import { AppError } from '../protocol/errors.js';

export { sqlStateOf };

/**
 * The one place that interprets SQLSTATE codes (§12.3; observability/error-fields.ts only reads
 * them out of an error for log lines). Repositories, the transaction runner and the
 * HTTP/WebSocket filters' last resort all answer a database error through `toAppError`, so a
 * value the database refuses, a repeated key and a lost database read the same everywhere.
 */

export const UNIQUE_VIOLATION = '23505';
export const CHECK_VIOLATION = '23514';
export const DEADLOCK = '40P01';
export const SERIALIZATION_FAILURE = '40001';

/**
 * What a database error says about the statement:
 * - `duplicate`: a unique key exists already (23505);
 * - `refused-value`: a value the database cannot store (class 22, data exception, e.g. U+0000 in
 *   text; or a check violation) — the client's input;
 * - `integrity`: another integrity violation (class 23: a missing parent row…) — the row, not the
 *   connection, but not the client's input either;
 * - `lock-race`: a deadlock or serialization failure: retrying (smaller) may succeed;
 * - `unavailable`: anything else, including a lost connection (no SQLSTATE, class 08, 57P01).
 */
export type DatabaseFailure =
  'duplicate' | 'refused-value' | 'integrity' | 'lock-race' | 'unavailable';

export function classifyDatabaseError(err: unknown): DatabaseFailure {
  const state = sqlStateOf(err);
  if (state === undefined) return 'unavailable';
  if (state === UNIQUE_VIOLATION) return 'duplicate';
  if (state.startsWith('22') || state === CHECK_VIOLATION) return 'refused-value';
  if (state.startsWith('23')) return 'integrity';
  if (state === DEADLOCK || state === SERIALIZATION_FAILURE) return 'lock-race';
  return 'unavailable';
}

/** The VALIDATION_ERROR of a value the database refused: `storable` on `$`, never the value. */
export function notStorable(message = 'A value could not be stored'): AppError {
  return AppError.validation([{ field: '$', constraints: ['storable'] }], message);
}

/**
 * The answer for a failed statement: an AppError stays as it is; a repeated key is CONFLICT, a
 * refused value VALIDATION_ERROR `storable`, everything else SERVICE_UNAVAILABLE. Built from the
 * SQLSTATE only: the driver's message (query text, parameters) never reaches the answer.
 */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  switch (classifyDatabaseError(err)) {
    case 'duplicate':
      return AppError.conflict('Already exists');
    case 'refused-value':
      return notStorable();
    case 'integrity':
    case 'lock-race':
    case 'unavailable':
      return AppError.unavailable('Storage unavailable');
  }
}

/**
 * The answer for a database error no repository mapped (the HTTP and WebSocket filters' last
 * resort, after `isDatabaseError`): the same rules as the repositories (`toAppError`) — a value
 * the database refuses to store is VALIDATION_ERROR `storable` on `$`, anything else
 * SERVICE_UNAVAILABLE.
 */
export function databaseAnswer(err: unknown): AppError {
  return toAppError(err);
}
