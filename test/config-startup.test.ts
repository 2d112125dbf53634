import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, spawnServer, startServerProcess } from './support/process.js';

const STRONG = 'x'.repeat(40);
const PROD_OK = {
  NODE_ENV: 'production',
  JWT_SECRET: STRONG,
  CORS_ORIGIN: 'https://nurse.example.org',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

/** Starts the real process and expects it to refuse: exit code 1 and one line naming the variable. */
async function refuses(env: Record<string, string>, variable: string): Promise<void> {
  const sp = spawnServer({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-cfg-')),
    PORT: String(await freePort()),
    ...env,
  });
  const timer = setTimeout(() => sp.proc.kill('SIGKILL'), 20_000);
  const code = await sp.exited;
  clearTimeout(timer);
  expect(code).toBe(1);
  const lines = sp.stderr.filter((l) => l.trim().length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(variable);
  // Refusals never print secrets.
  expect(lines[0]).not.toContain(STRONG);
}

describe('start-up refusals (real process, exit code 1, one line naming the variable)', () => {
  it('PORT=abc', () => refuses({ PORT: 'abc' }, 'PORT'));
  it('malformed RATE_LIMITS JSON', () => refuses({ RATE_LIMITS: '{not json' }, 'RATE_LIMITS'));
  it('unknown RATE_LIMITS key', () =>
    refuses({ RATE_LIMITS: '{"message:sned":{"maxTokens":1}}' }, 'RATE_LIMITS'));
  it('bad RATE_LIMITS value', () =>
    refuses({ RATE_LIMITS: '{"message:send":{"maxTokens":-1}}' }, 'RATE_LIMITS'));
  it('unparseable number', () =>
    refuses({ WS_MAX_CONNECTIONS_PER_USER: 'ten' }, 'WS_MAX_CONNECTIONS_PER_USER'));
  it('production without JWT_SECRET', () => refuses({ ...PROD_OK, JWT_SECRET: '' }, 'JWT_SECRET'));
  it('production with a short JWT_SECRET', () =>
    refuses({ ...PROD_OK, JWT_SECRET: 'short-secret' }, 'JWT_SECRET'));
  it('production without CORS_ORIGIN', () =>
    refuses({ ...PROD_OK, CORS_ORIGIN: '' }, 'CORS_ORIGIN'));
  it('production with CORS_ORIGIN=*', () =>
    refuses({ ...PROD_OK, CORS_ORIGIN: '*' }, 'CORS_ORIGIN'));
  it('production with * among origins', () =>
    refuses({ ...PROD_OK, CORS_ORIGIN: 'https://a.example,*' }, 'CORS_ORIGIN'));
  it('production without DATABASE_URL', () =>
    refuses({ ...PROD_OK, DATABASE_URL: '' }, 'DATABASE_URL'));
  it('production without REDIS_URL', () => refuses({ ...PROD_OK, REDIS_URL: '' }, 'REDIS_URL'));
  it('production with unreachable Redis', async () => {
    const deadPort = await freePort();
    await refuses({ ...PROD_OK, REDIS_URL: `redis://127.0.0.1:${deadPort}` }, 'REDIS_URL');
  });
});

describe('development defaults', () => {
  it('starts on the embedded database with a generated JWT secret kept in DATA_DIR', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wcr-dev-'));
    const sp = await startServerProcess({ DATA_DIR: dataDir });
    try {
      const ready = (await (await fetch(`${sp.url}/ready`)).json()) as {
        status: string;
        checks: Record<string, string>;
      };
      expect(ready).toEqual({ status: 'ok', checks: { database: 'up', redis: 'disabled' } });
      const { readFileSync, statSync } = await import('node:fs');
      const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o077).toBe(0);
      // The secret is logged nowhere.
      expect(sp.stdout.join('\n')).not.toContain(secret);
      expect(await sp.stop('SIGTERM')).toBe(0);
      // Second start reuses the same secret (tokens stay valid across restarts).
      const again = await startServerProcess({ DATA_DIR: dataDir });
      expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim()).toBe(secret);
      await again.stop('SIGTERM');
    } finally {
      await sp.stop('SIGKILL');
    }
    // Two real processes, the first running PGlite's initdb: slow on a loaded 2-core machine.
  }, 120_000);
});
