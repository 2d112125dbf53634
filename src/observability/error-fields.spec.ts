import { describe, expect, it } from 'vitest';
import { errorFields, isDatabaseError } from './error-fields.js';

const MARKER = 'PHI-MARKER-4711';

describe('errorFields', () => {
  it('never carries a wrapped query error message, detail or multi-line stack head', () => {
    const driver = Object.assign(new Error(`invalid byte sequence ${MARKER}`), {
      name: 'DatabaseError',
      code: '22021',
      constraint: 'messages_pkey',
      detail: `Key (id)=(${MARKER}) already exists.`,
    });
    const wrapped = new Error(`Failed query: insert ...\nparams: ${MARKER},x`, { cause: driver });
    wrapped.name = 'DrizzleQueryError';
    const f = errorFields(wrapped);
    expect(JSON.stringify(f)).not.toContain(MARKER);
    expect(f).toMatchObject({
      errorName: 'DrizzleQueryError',
      causeName: 'DatabaseError',
      sqlState: '22021',
      constraint: 'messages_pkey',
    });
    expect(f.stack).toBeUndefined();
    expect(isDatabaseError(wrapped)).toBe(true);
  });

  it('keeps stack frames only (no message lines) for other errors', () => {
    const e = new TypeError(`bad ${MARKER}\nsecond line ${MARKER}`);
    const f = errorFields(e);
    expect(JSON.stringify(f)).not.toContain(MARKER);
    expect(f.stack).toMatch(/^\s+at /);
    expect(isDatabaseError(e)).toBe(false);
  });

  it('recognises a lost connection without a SQLSTATE', () => {
    expect(isDatabaseError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });
});
