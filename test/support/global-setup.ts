import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../../src/persistence/database.js';
import { IN_CI, postgresAvailable, redisAvailable } from './services.js';

/**
 * Once per `npm test`: probe PostgreSQL and Redis (fail in CI when missing, warn loudly
 * otherwise), build dist/ for the suites that start real server processes, and make one migrated
 * PGlite data directory that every in-process server loads instead of running initdb again.
 */
export default async function setup(): Promise<void> {
  const [pgUp, redisUp] = await Promise.all([postgresAvailable(), redisAvailable()]);
  const missing = [
    !pgUp && 'PostgreSQL (127.0.0.1:5432)',
    !redisUp && 'Redis (127.0.0.1:6379)',
  ].filter(Boolean);
  if (missing.length > 0) {
    const line = `\n*** ${missing.join(' and ')} not answering: the suites that need ${missing.length > 1 ? 'them' : 'it'} are SKIPPED ***\n`;
    if (IN_CI) throw new Error(`CI=true but ${missing.join(' and ')} not available`);
    process.stderr.write(line);
  }
  process.env.WCR_TEST_HAS_PG = pgUp ? '1' : '0';
  process.env.WCR_TEST_HAS_REDIS = redisUp ? '1' : '0';

  // Incremental: skipped when no source changed since the last build (scripts/build-if-stale.mjs).
  execFileSync(process.execPath, ['scripts/build-if-stale.mjs'], { stdio: 'inherit' });

  const dir = mkdtempSync(join(tmpdir(), 'wcr-template-'));
  const handle = await openPglite({});
  const client = (
    handle as unknown as { db: { $client: { dumpDataDir(c?: string): Promise<Blob> } } }
  ).db.$client;
  const blob = await client.dumpDataDir('none');
  const file = join(dir, 'pglite-template.tar');
  writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
  await handle.close();
  process.env.WCR_PGLITE_TEMPLATE = file;
}
