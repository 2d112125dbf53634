import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Db, Tx } from './database.js';

/** Anything that runs SQL: the database or an open transaction. */
export type Executor = Db | Tx;

/** Rows of a raw query: both drivers (node-postgres and PGlite) answer `{rows}`. */
export async function queryRows<T>(ex: Executor, query: SQL): Promise<T[]> {
  const result: unknown = await ex.execute(query);
  return (result as { rows: T[] }).rows;
}

/**
 * Times are selected as epoch milliseconds (float8): the two drivers return timestamptz text in
 * different shapes, a number reads the same on both.
 */
export const epochMs = (column: SQLWrapper): SQL<number> =>
  sql<number>`(extract(epoch from ${column}) * 1000)::float8`.mapWith(Number);

export function isoFromMs(ms: number | string | null): string | null {
  if (ms === null || ms === undefined) return null;
  return new Date(Math.floor(Number(ms))).toISOString();
}

/** jsonb comes back parsed from both drivers; be tolerant of text. */
export function jsonObject(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return JSON.parse(v) as Record<string, unknown>;
  return (v ?? {}) as Record<string, unknown>;
}
