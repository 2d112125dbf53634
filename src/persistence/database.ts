import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { schema } from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle: the same query API as `Db`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The committed SQL migrations (copied next to the compiled file by `npm run build`). */
export function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'migrations'), join(here, '../../../src/persistence/migrations')];
  const found = candidates.find((c) => existsSync(join(c, 'meta', '_journal.json')));
  if (!found) throw new Error('SQL migrations folder not found');
  return found;
}

export interface DatabaseHandle {
  readonly kind: 'postgresql' | 'pglite';
  readonly db: Db;
  /** Statements that may run at once: the pool's size on PostgreSQL, 1 on PGlite (one connection). */
  readonly concurrency: number;
  /**
   * One hot statement with a fixed text, as a prepared statement: PostgreSQL parses and plans a
   * named statement once per connection instead of on every call. Parameters may be arrays.
   */
  prepared<T>(name: string, text: string, params: unknown[]): Promise<T[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 727_274_001;

export interface PostgresOptions {
  poolSize?: number;
  /**
   * A statement unanswered this long fails (SERVICE_UNAVAILABLE to the caller): a hung server or
   * a network black hole costs a request this long, not the minutes of TCP retransmission. The
   * server cancels it at the same deadline (statement_timeout), so nothing runs on that nobody
   * waits for. Getting a connection from the pool waits at most 5 s (or the deadline, if lower).
   * Unset: no statement deadline. Migrations run without it.
   */
  queryTimeoutMs?: number;
}

export async function openPostgres(
  url: string,
  options: PostgresOptions = {},
): Promise<DatabaseHandle> {
  const poolSize = options.poolSize ?? 10;
  await migratePostgres(url);
  const timeout = options.queryTimeoutMs;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Waiting for a connection counts against the same deadline (a frozen server accepts TCP
    // connections and never answers their start-up).
    connectionTimeoutMillis: Math.min(5000, timeout ?? 5000),
    keepAlive: true,
    ...(timeout ? { query_timeout: timeout, statement_timeout: timeout } : {}),
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor one that is checked out: the pool listens for errors of idle clients only, and a
  // connection killed between two statements of a transaction (failover, pg_terminate_backend)
  // made the checked-out client emit an unhandled 'error' that ended the process (§12.3). With a
  // listener of its own, the client is marked broken: the transaction's next statement fails,
  // drizzle rolls back (the server already did), the request answers SERVICE_UNAVAILABLE, and the
  // pool discards the client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = drizzlePg({ client: pool, schema }) as unknown as Db;
  return {
    kind: 'postgresql',
    db,
    concurrency: poolSize,
    prepared: async <T>(name: string, text: string, values: unknown[]) =>
      (await pool.query({ name, text, values })).rows as T[],
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

/**
 * Applies the migrations on a pool of its own, without a statement deadline (a migration on a
 * large table, or waiting for another node's, may take long). Several nodes may start at once
 * against one database: an advisory lock makes them migrate one at a time.
 */
async function migratePostgres(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  try {
    const lockClient = await pool.connect();
    try {
      await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migratePg(drizzlePg({ client: pool, schema }), {
        migrationsFolder: migrationsFolder(),
      });
    } finally {
      await lockClient
        .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
        .catch(() => undefined);
      lockClient.release();
    }
  } finally {
    await pool.end();
  }
}

/**
 * Embedded PostgreSQL (PGlite). `dataDir` on disk survives restarts; `template` (a dumped data
 * directory) gives tests a migrated in-memory database in about a second.
 */
export async function openPglite(options: {
  dataDir?: string;
  template?: Blob;
}): Promise<DatabaseHandle> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const client = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.template ? { loadDataDir: options.template } : {}),
  });
  const db = drizzlePglite({ client, schema });
  await migratePglite(db, { migrationsFolder: migrationsFolder() });
  let closed = false;
  return {
    kind: 'pglite',
    db: db as unknown as Db,
    concurrency: 1,
    prepared: async <T>(_name: string, text: string, params: unknown[]) =>
      (await client.query<T>(text, params)).rows,
    ping: async () => {
      if (closed) throw new Error('database closed');
      await db.execute(sql`SELECT 1`);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

export const DATABASE = Symbol('DATABASE');
