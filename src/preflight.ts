import { ConfigError, type AppConfig } from './config/config.js';

/**
 * Checks that need the network, before Nest starts: in production Redis must answer
 * (§2 "start refused if unreachable").
 */
export async function preflight(config: AppConfig): Promise<void> {
  if (!config.isProduction || !config.redis) return;
  const { Cluster, Redis } = await import('ioredis');
  const r = config.redis;
  if (r.mode === 'cluster') {
    // A seed answers and the cluster serves every slot (cluster_state:ok), else no `ready`.
    const cluster = new Cluster(r.clusterNodes!, {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: () => null,
      redisOptions: { username: r.username, password: r.password, connectTimeout: 3000 },
    });
    cluster.on('error', () => undefined);
    try {
      await cluster.connect();
      await cluster.ping();
    } catch {
      throw new ConfigError('REDIS_CLUSTER_NODES', 'is not reachable (no seed answered)');
    } finally {
      cluster.disconnect();
    }
    return;
  }
  const client = r.url
    ? new Redis(r.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        retryStrategy: () => null,
      })
    : new Redis({
        host: r.host,
        port: r.port,
        username: r.username,
        password: r.password,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        retryStrategy: () => null,
      });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch {
    throw new ConfigError('REDIS_URL', 'is not reachable');
  } finally {
    client.disconnect();
  }
}
