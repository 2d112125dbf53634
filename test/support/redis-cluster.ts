import { execFileSync } from 'node:child_process';
import { IN_CI } from './services.js';

export {
  startRedisCluster,
  type KillResult,
  type LocalRedisCluster,
  type RedisClusterNode,
  type RedisClusterOptions,
} from '../../scripts/redis-cluster.js';

/** Whether `cmd --version` runs and reports major version 7 or later (sharded pub/sub). */
function runs(cmd: string): boolean {
  try {
    const out = execFileSync(cmd, ['--version'], { encoding: 'utf8', timeout: 5000 });
    const major = Number(/(?:v=|redis-cli )(\d+)\./.exec(out)?.[1] ?? 0);
    return major >= 7;
  } catch {
    return false;
  }
}

/**
 * Whether the suites that start a Redis Cluster of their own can run: redis-server and redis-cli
 * (7.0+, for sharded pub/sub) on PATH. Missing in CI (CI=true) fails; elsewhere it says so
 * loudly and the suite skips.
 */
export function redisClusterTools(): boolean {
  const missing = ['redis-server', 'redis-cli'].filter((c) => !runs(c));
  if (missing.length === 0) return true;
  if (IN_CI) throw new Error(`CI=true but ${missing.join(' and ')} 7+ not installed`);
  process.stderr.write(
    `\n*** ${missing.join(' and ')} 7+ not installed: the Redis Cluster suites are SKIPPED ***\n`,
  );
  return false;
}
