import { describe, expect, it } from 'vitest';
import { AppError } from '../protocol/errors.js';
import { classifyDatabaseError, sqlStateOf, toAppError } from './sqlstate.js';

/** A driver error as drizzle wraps it: the SQLSTATE on the cause, the parameters in the message. */
function wrapped(code: string | undefined): Error {
  const cause = Object.assign(new Error('value "PHI-MARKER" refused'), code ? { code } : {});
  return Object.assign(new Error('Failed query: insert … params: PHI-MARKER'), {
    name: 'DrizzleQueryError',
    cause,
  });
}

describe('database errors → AppError', () => {
  it.each([
    ['23505', 'duplicate', 'CONFLICT'],
    ['22021', 'refused-value', 'VALIDATION_ERROR'],
    ['22P05', 'refused-value', 'VALIDATION_ERROR'],
    ['23514', 'refused-value', 'VALIDATION_ERROR'],
    ['23503', 'integrity', 'SERVICE_UNAVAILABLE'],
    ['40P01', 'lock-race', 'SERVICE_UNAVAILABLE'],
    ['40001', 'lock-race', 'SERVICE_UNAVAILABLE'],
    ['57P01', 'unavailable', 'SERVICE_UNAVAILABLE'],
    [undefined, 'unavailable', 'SERVICE_UNAVAILABLE'],
  ] as const)(
    'SQLSTATE %s is %s → %s, and the answer never quotes the driver',
    (code, kind, type) => {
      const err = wrapped(code);
      expect(sqlStateOf(err)).toBe(code);
      expect(classifyDatabaseError(err)).toBe(kind);
      const answer = toAppError(err);
      expect(answer.type).toBe(type);
      expect(`${answer.message} ${JSON.stringify(answer.details ?? null)}`).not.toContain('PHI');
      if (type === 'VALIDATION_ERROR')
        expect(answer.details).toEqual([{ field: '$', constraints: ['storable'] }]);
    },
  );

  it('an AppError passes through unchanged', () => {
    const own = AppError.notFound('Message');
    expect(toAppError(own)).toBe(own);
  });
});
