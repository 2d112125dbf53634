import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { freePort, spawnServer } from '../support/process.js';

const SEEDS = '127.0.0.1:7000,127.0.0.1:7001,[::1]:7002';
const refusal = (env: Record<string, string>): string => {
  try {
    loadConfig({ NODE_ENV: 'test', ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('REDIS_CLUSTER_NODES', () => {
  it('switches to cluster mode with the sharded adapter (static) and keeps the credentials', () => {
    const c = loadConfig({
      NODE_ENV: 'test',
      REDIS_CLUSTER_NODES: SEEDS,
      REDIS_USERNAME: 'realtime',
      REDIS_PASSWORD: 'pw',
    });
    expect(c.redis).toMatchObject({
      mode: 'cluster',
      adapter: 'sharded',
      shardedSubscriptionMode: 'static',
      username: 'realtime',
      password: 'pw',
      clusterNodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://h:1' }).redis).toMatchObject({
      mode: 'single',
      adapter: 'pubsub',
    });
  });

  it('refuses a bad seed, a second way to name Redis, a non-sharded adapter and a braced prefix', () => {
    expect(refusal({ REDIS_CLUSTER_NODES: '127.0.0.1' })).toContain('REDIS_CLUSTER_NODES');
    expect(refusal({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,' })).toContain('REDIS_CLUSTER_NODES');
    expect(refusal({ REDIS_CLUSTER_NODES: 'h:70000' })).toContain('REDIS_CLUSTER_NODES');
    expect(refusal({ REDIS_CLUSTER_NODES: SEEDS, REDIS_URL: 'redis://h:1' })).toContain(
      'cannot be combined with REDIS_URL',
    );
    expect(refusal({ REDIS_CLUSTER_NODES: SEEDS, REDIS_HOST: 'h' })).toContain('REDIS_HOST');
    expect(refusal({ REDIS_CLUSTER_NODES: SEEDS, REDIS_ADAPTER: 'streams' })).toContain(
      'REDIS_ADAPTER must be sharded',
    );
    expect(refusal({ REDIS_CLUSTER_NODES: SEEDS, REDIS_KEY_PREFIX: 'a{b}:' })).toContain(
      'REDIS_KEY_PREFIX',
    );
    expect(
      refusal({ REDIS_CLUSTER_NODES: SEEDS, REDIS_SHARDED_SUBSCRIPTION_MODE: 'sometimes' }),
    ).toContain('REDIS_SHARDED_SUBSCRIPTION_MODE');
  });

  it('production: the real process refuses an unreachable cluster (exit 1, one line naming the variable)', async () => {
    const dead = await freePort();
    const sp = spawnServer({
      NODE_ENV: 'production',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-cfg-')),
      PORT: String(await freePort()),
      JWT_SECRET: 'x'.repeat(40),
      CORS_ORIGIN: 'https://nurse.example.org',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      REDIS_CLUSTER_NODES: `127.0.0.1:${dead}`,
    });
    const timer = setTimeout(() => sp.proc.kill('SIGKILL'), 20_000);
    const code = await sp.exited;
    clearTimeout(timer);
    expect(code).toBe(1);
    const lines = sp.stderr.filter((l) => l.trim().length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('REDIS_CLUSTER_NODES');
    // The reason, not only "unreachable" (a wrong password is told apart: credentials.test.ts).
    expect(lines[0]).toContain('no seed answered (ECONNREFUSED)');
  });
});
