/**
 * Real services for the suites: PostgreSQL at 127.0.0.1:5432 (trust auth) and Redis at
 * 127.0.0.1:6379. Missing outside CI: the suite says so loudly and skips that part. In CI
 * (CI=true) a missing service fails.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

export const PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const IN_CI = process.env.CI === 'true';

function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function postgresAvailable(): Promise<boolean> {
  if (!(await portOpen('127.0.0.1', 5432))) return false;
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function redisAvailable(): Promise<boolean> {
  const u = new URL(REDIS_TEST_URL);
  return portOpen(u.hostname, Number(u.port || 6379));
}

/** Result of the global setup's probe, passed to workers through the environment. */
export const hasPostgres = (): boolean => process.env.WCR_TEST_HAS_PG === '1';
export const hasRedis = (): boolean => process.env.WCR_TEST_HAS_REDIS === '1';

/** Creates a fresh database of its own for a suite; returns its URL and a drop function. */
export async function createTestDatabase(
  label = 't',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name =
    `wcr_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}

/** A Redis key prefix of its own, so runs and suites never collide. */
export function redisPrefix(label = 't'): string {
  return `wcrtest:${label}:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
}
