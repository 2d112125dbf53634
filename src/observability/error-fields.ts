/**
 * What a log line may say about an error (§12.3): its class, and for a database error the
 * SQLSTATE and the constraint name — never its message. drizzle's query errors carry the query
 * text and its parameters (message content, alert text) in the message, and so in the first
 * lines of the stack; driver errors quote values in `detail`. Stack frames (`    at …` lines) are
 * kept for other errors only, to find bugs.
 */
export interface ErrorFields {
  errorName: string;
  /** The driver error's class when it was wrapped (e.g. DrizzleQueryError → DatabaseError). */
  causeName?: string;
  sqlState?: string;
  constraint?: string;
  stack?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** node-postgres errors without a SQLSTATE when the connection itself is gone. */
const CONNECTION_LOST =
  /Connection terminated|connection error|not queryable|Client was closed|ECONNRESET|ECONNREFUSED|EPIPE|timeout exceeded when trying to connect/i;

/**
 * SQLSTATE of a driver error, also when drizzle wrapped it (the `cause` chain). Read here, below
 * persistence, because log lines carry it; what a SQLSTATE means for the caller is
 * persistence/sqlstate.ts's business (`toAppError`).
 */
export function sqlStateOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

function nameOf(e: unknown): string {
  if (e instanceof Error) return e.name || e.constructor?.name || 'Error';
  if (e && typeof e === 'object') return e.constructor?.name ?? 'object';
  return typeof e;
}

/**
 * True for anything that came from the database or its connection: a SQLSTATE anywhere in the
 * cause chain, a drizzle query error, or node-postgres' connection-lost errors.
 */
export function isDatabaseError(err: unknown): boolean {
  for (const e of chain(err)) {
    const name = nameOf(e);
    if (
      name === 'DrizzleQueryError' ||
      name === 'DatabaseError' ||
      name === 'TransactionRollbackError'
    )
      return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return true;
    const message = e instanceof Error ? e.message : '';
    if (CONNECTION_LOST.test(message.slice(0, 200))) return true;
  }
  return false;
}

/** Loggable fields of any error: class, SQLSTATE, constraint name and (non-database) stack frames. */
export function errorFields(err: unknown): ErrorFields {
  const links = chain(err);
  const out: ErrorFields = { errorName: nameOf(err) };
  const inner = links.at(-1);
  if (links.length > 1) out.causeName = nameOf(inner);
  const state = sqlStateOf(err);
  if (state) out.sqlState = state;
  for (const e of links) {
    const constraint = (e as { constraint?: unknown }).constraint;
    if (typeof constraint === 'string' && /^[A-Za-z0-9_]{1,63}$/.test(constraint)) {
      out.constraint = constraint;
      break;
    }
  }
  if (!isDatabaseError(err) && err instanceof Error && typeof err.stack === 'string') {
    // Frames only: the message (first line, and any continuation lines) is never logged.
    const frames = err.stack
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .slice(0, 7);
    if (frames.length > 0) out.stack = frames.join('\n');
  }
  return out;
}
