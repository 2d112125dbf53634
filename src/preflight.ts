import { ConfigError, type AppConfig } from './config/config.js';
import { redisErrorKind } from './redis/redis.connections.js';

/** Reply kinds that mean "reachable, but the credentials were refused". */
const AUTH_KINDS = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);

/**
 * Why Redis was refused, for the one line of a refused start: the kind of the failure
 * (`WRONGPASS`, `NOAUTH`, `ECONNREFUSED`, …) when one is known — never the error message or the
 * credentials. A node's own error (a refused AUTH) says more than a cluster's "all nodes failed".
 */
function reason(unreachable: string, err: unknown, nodeErrors: readonly unknown[] = []): string {
  const kinds = [...nodeErrors, err]
    .map(redisErrorKind)
    .filter((k): k is string => k !== undefined);
  const kind = kinds.find((k) => AUTH_KINDS.has(k)) ?? kinds.find((k) => k !== 'ERR') ?? kinds[0];
  if (kind !== undefined && AUTH_KINDS.has(kind))
    return `answered but refused the credentials (REDIS_USERNAME/REDIS_PASSWORD): ${kind}`;
  return kind ? `${unreachable} (${kind})` : unreachable;
}

/** Connects to each seed (at most 3, at once) as a plain client; returns their errors. */
async function seedErrors(
  Redis: typeof import('ioredis').Redis,
  r: NonNullable<AppConfig['redis']>,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  await Promise.all(
    (r.clusterNodes ?? []).slice(0, 3).map(async ({ host, port }) => {
      const seed = new Redis({
        host,
        port,
        username: r.username,
        password: r.password,
        lazyConnect: true,
        connectTimeout: 3000,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      // The socket error comes as an `error` event; connect() then rejects with "Connection is closed".
      seed.on('error', (err: unknown) => errors.push(err));
      try {
        await seed.connect();
        await seed.ping();
      } catch (err) {
        errors.push(err);
      } finally {
        seed.disconnect();
      }
    }),
  );
  return errors;
}

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
    const nodeErrors: unknown[] = [];
    cluster.on('error', () => undefined);
    cluster.on('node error', (err: unknown) => nodeErrors.push(err));
    try {
      await cluster.connect();
      await cluster.ping();
    } catch (err) {
      // ioredis reports a seed that refused or dropped the TCP connection only as "Connection
      // is closed": then each seed is asked directly, for the socket error.
      if ([...nodeErrors, err].every((e) => redisErrorKind(e) === undefined)) {
        nodeErrors.push(...(await seedErrors(Redis, r)));
      }
      throw new ConfigError(
        'REDIS_CLUSTER_NODES',
        reason('is not reachable: no seed answered', err, nodeErrors),
      );
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
  let lastError: unknown;
  client.on('error', (err: unknown) => (lastError = err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new ConfigError('REDIS_URL', reason('is not reachable', err, [lastError]));
  } finally {
    client.disconnect();
  }
}
