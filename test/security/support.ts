/**
 * Helpers of the security suite. Log lines are read from spawned server processes: nestjs-pino
 * keeps one root logger per process, so only the first in-process server of a test file gets its
 * own log capture.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { createTestDatabase } from '../support/services.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

export interface SpawnedServer extends ServerProcess {
  /** Every line the process wrote to stdout and stderr so far. */
  lines(): string[];
  databaseUrl: string;
  close(): Promise<void>;
}

/** `node dist/src/main.js` on a PostgreSQL database of its own (or the given one). */
export async function spawnOnPostgres(
  env: Record<string, string>,
  o: { databaseUrl?: string } = {},
): Promise<SpawnedServer> {
  const db = o.databaseUrl ? undefined : await createTestDatabase('sec');
  const databaseUrl = o.databaseUrl ?? db!.url;
  const dataDir = mkdtempSync(join(tmpdir(), 'wcr-sec-'));
  let sp: ServerProcess;
  try {
    sp = await startServerProcess({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'debug',
      RATE_LIMITS: JSON.stringify({ 'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 } }),
      ...env,
    });
  } catch (err) {
    await db?.drop();
    throw err;
  }
  return {
    ...sp,
    databaseUrl,
    lines: () => [...sp.stdout, ...sp.stderr],
    close: async () => {
      await sp.stop('SIGTERM');
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { eventually } from '../support/wait.js';

/**
 * Holds `table` ACCESS EXCLUSIVE from a connection of the test's own, until `release`: the
 * server's next statement on it waits on the lock, and `killWaiter` terminates that backend.
 *
 * pg_stat_activity is a per-transaction snapshot (stats_fetch_consistency, default `cache`): read
 * inside the transaction that holds the lock, it keeps showing what the first poll saw, so a
 * server backend that connected, or reached the lock, after that first poll was never seen (the
 * case timed out while the server sat on the lock; it hit whenever the pool had to open a fresh
 * connection, e.g. after earlier kills emptied it). Each poll discards the snapshot first.
 */
export async function lockTable(url: string, table: string) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('BEGIN');
  await admin.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  const dbName = new URL(url).pathname.slice(1);
  return {
    /**
     * Waits for a backend of this database blocked on the lock, then terminates it. With
     * `midTransaction`, only a backend whose transaction already wrote something (it has an xid:
     * a request's transaction stuck on its second table), never a lone statement such as a
     * batched audit flush that happens to reach the lock first.
     */
    killWaiter: async (timeoutMs = 25_000, midTransaction = false): Promise<number> => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await admin.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await admin.query<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
              AND ($2::boolean IS FALSE OR backend_xid IS NOT NULL)`,
          [dbName, midTransaction],
        );
        if (rows.length > 0) return rows.length;
        await new Promise((r) => setTimeout(r, 25));
      }
      await admin.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await admin.query(
        `SELECT pid, state, wait_event_type, wait_event, left(query, 60) AS q FROM pg_stat_activity WHERE datname = $1`,
        [dbName],
      );
      throw new Error(`no backend waited on ${table}: ${JSON.stringify(rows)}`);
    },
    release: async () => {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.end().catch(() => undefined);
    },
  };
}
