import { ConfigError, type AppConfig } from './config/config.js';

/**
 * Checks that need the network, before Nest starts: in production Redis must answer
 * (§2 "start refused if unreachable").
 */
export async function preflight(config: AppConfig): Promise<void> {
  if (!config.isProduction || !config.redis) return;
  const { Redis } = await import('ioredis');
  const r = config.redis;
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
