/**
 * Helpers of the security suite. Log lines are read from spawned server processes: nestjs-pino
 * keeps one root logger per process, so only the first in-process server of a test file gets its
 * own log capture.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Polls until `check` holds (or throws after the timeout). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
