import { sql, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '../persistence/database.js';

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
export const epochMs = (column: SQL): SQL => sql`(extract(epoch from ${column}) * 1000)::float8`;

export function isoFromMs(ms: number | string | null): string | null {
  if (ms === null || ms === undefined) return null;
  return new Date(Math.floor(Number(ms))).toISOString();
}

/** jsonb comes back parsed from both drivers; be tolerant of text. */
export function jsonObject(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return JSON.parse(v) as Record<string, unknown>;
  return (v ?? {}) as Record<string, unknown>;
}

/** SQLSTATE of a driver error, also when drizzle wrapped it. */
export function sqlState(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const DEADLOCK = '40P01';
export const SERIALIZATION_FAILURE = '40001';
