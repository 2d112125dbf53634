import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/config.js';

/**
 * A connection to Redis as the stores and the adapter use it: one server (`Redis`) or a Redis
 * Cluster (`Cluster`, REDIS_CLUSTER_NODES). Both route the same commands; in cluster mode every
 * multi-key command and script must keep its keys in one slot (see `coordinationKey`).
 */
export type RedisClient = Redis | Cluster;

/**
 * The start of every key that takes part in cross-node coordination (node registry, presence,
 * connection slots): `<prefix>{<prefix>}`. Their scripts read the node registry next to per-user
 * keys, so in a Redis Cluster all of them must live in one slot: the `{…}` hash tag puts them
 * there (one slot per deployment prefix). Every key still starts with the prefix. In a single
 * Redis the braces are just characters. Rate-limit buckets carry a tag per user instead
 * (`{<org>:<user>}`, see userBucketPrefix) and the adapter's channels none: both spread over the
 * shards.
 */
export function coordinationPrefix(prefix: string): string {
  return `${prefix}{${prefix}}`;
}

/**
 * What kind of failure a Redis error is, for a log line or a refusal: the reply's leading word
 * (`WRONGPASS`, `NOAUTH`, `CLUSTERDOWN`, …), else the socket error code (`ECONNREFUSED`,
 * `ETIMEDOUT`, …), looking through ioredis' "all nodes failed" wrapper (`lastNodeError`). Never
 * the message itself, which may carry command arguments.
 */
export function redisErrorKind(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; message?: unknown; lastNodeError?: unknown };
  const word = typeof e.message === 'string' ? /^([A-Z][A-Z_-]{2,})(?:\s|$)/.exec(e.message) : null;
  if (word) return word[1];
  if (typeof e.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code)) return e.code;
  if (e.lastNodeError) return redisErrorKind(e.lastNodeError);
  if (typeof e.message === 'string' && /timed? ?out/i.test(e.message)) return 'ETIMEDOUT';
  return undefined;
}

/** Reconnect delays: 100 ms, 200 ms, 400 ms … capped at 2 s, with ±20 % jitter so nodes spread out. */
export function reconnectDelayMs(attempt: number, capMs = 2000): number {
  const base = Math.min(capMs, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export interface RedisLogSink {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export interface ClientOptions {
  /**
   * Queue commands while disconnected (true) or fail them at once (false). Stores fail fast and
   * fall back; the adapter's clients queue so a short blip loses nothing.
   */
  offlineQueue?: boolean;
  /** Reject a queued command after this many reconnect attempts (ioredis maxRetriesPerRequest). */
  maxRetriesPerRequest?: number | null;
  /**
   * Fail a command that gets no answer within REDIS_COMMAND_TIMEOUT_MS (default true). Off only
   * for clients that block on purpose or only subscribe (the adapter's subscriber and stream reader).
   */
  commandTimeout?: boolean;
}

/** ioredis options from config: capped exponential backoff, no reconnect storm, bounded waits. */
export function redisOptions(cfg: RedisConfig, name: string, o: ClientOptions = {}): RedisOptions {
  return {
    host: cfg.host,
    port: cfg.port,
    username: cfg.username,
    password: cfg.password,
    ...(cfg.url?.startsWith('rediss://') ? { tls: {} } : {}),
    connectionName: name,
    connectTimeout: 3000,
    retryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    enableOfflineQueue: o.offlineQueue ?? true,
    maxRetriesPerRequest: o.maxRetriesPerRequest === undefined ? 3 : o.maxRetriesPerRequest,
    // A failover replica answering READONLY: reconnect instead of failing every write.
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    lazyConnect: false,
    // A hung Redis (connection open, no answers) fails each command after this long, so the
    // callers' fallbacks engage as for a refused connection (§12.8).
    ...(o.commandTimeout === false ? {} : { commandTimeout: cfg.commandTimeoutMs }),
  };
}

/**
 * ioredis `Cluster` options from config (cluster mode). The same bounds as a single client:
 * capped backoff while no seed answers, fail-fast or queued per client kind, and
 * REDIS_COMMAND_TIMEOUT_MS on every node connection, so a hung shard engages the same fallbacks
 * (§12.8). During a failover ioredis retries a command that met CLUSTERDOWN/TRYAGAIN or a closed
 * node connection (`retryDelayOn*`), then follows the new slot map.
 */
export function clusterOptions(
  cfg: RedisConfig,
  name: string,
  o: ClientOptions & { shardedSubscribers?: boolean } = {},
): ClusterOptions {
  return {
    clusterRetryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    enableOfflineQueue: o.offlineQueue ?? true,
    enableReadyCheck: true,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    retryDelayOnMoved: 0,
    maxRedirections: 16,
    slotsRefreshTimeout: 1000,
    // Picks up a failover even when no command met a MOVED yet.
    slotsRefreshInterval: 2000,
    shardedSubscribers: o.shardedSubscribers ?? false,
    redisOptions: {
      username: cfg.username,
      password: cfg.password,
      connectionName: name,
      connectTimeout: 3000,
      maxRetriesPerRequest: o.maxRetriesPerRequest === undefined ? 3 : o.maxRetriesPerRequest,
      ...(o.commandTimeout === false ? {} : { commandTimeout: cfg.commandTimeoutMs }),
    },
  };
}

/**
 * Owns every Redis client of the node. Every client gets an `error` listener (an unhandled one
 * crashes the process) and connection-state tracking for `/ready` and `realtime_redis_up`.
 * Keys and channels are prefixed explicitly with `config.redis.keyPrefix` via `key()`, not with
 * ioredis' `keyPrefix` (which does not apply to SCAN patterns or pub/sub channels).
 */
export class RedisConnections {
  private readonly clients = new Map<RedisClient, string>();
  private readonly downSince = new Map<string, number>();
  /** The client for commands (stores): fails fast while disconnected. */
  readonly command: RedisClient;
  private closed = false;

  constructor(
    readonly config: RedisConfig,
    private readonly log: RedisLogSink,
    private readonly onStateChange: (up: boolean) => void = () => undefined,
  ) {
    this.command = this.create('command', { offlineQueue: false });
  }

  get prefix(): string {
    return this.config.keyPrefix;
  }

  get clustered(): boolean {
    return this.config.mode === 'cluster';
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** A key in the coordination slot (`<prefix>{<prefix>}…`, see coordinationPrefix). */
  coordinationKey(...parts: string[]): string {
    return coordinationPrefix(this.prefix) + parts.join(':');
  }

  /**
   * A new client with listeners attached: a `Cluster` in cluster mode (with `shardedSubscribers`
   * for a client that SSUBSCRIBEs), a `Redis` otherwise.
   */
  create(name: string, o: ClientOptions & { shardedSubscribers?: boolean } = {}): RedisClient {
    const client: RedisClient =
      this.config.mode === 'cluster'
        ? new Cluster(
            this.config.clusterNodes!,
            clusterOptions(this.config, `${this.prefix}${name}`, o),
          )
        : new Redis(redisOptions(this.config, `${this.prefix}${name}`, o));
    this.attach(client, name);
    return client;
  }

  /** A single-server client (single mode only: the streams adapter duplicates it). */
  createSingle(name: string, o: ClientOptions = {}): Redis {
    if (this.config.mode === 'cluster') throw new Error(`${name}: not available in cluster mode`);
    return this.create(name, o) as Redis;
  }

  /** Attaches error/state listeners to a client made elsewhere (e.g. an adapter's duplicate). */
  attach<C extends RedisClient>(client: C, name: string): C {
    this.clients.set(client, name);
    let lastError = '';
    client.on('error', (err: Error & { code?: string }) => {
      // Logged once per distinct error while it lasts; never the command arguments.
      const kind = err.code ?? err.name;
      if (kind === lastError) return;
      lastError = kind;
      this.log.warn({ client: name, errorCode: kind }, 'redis client error');
    });
    client.on('ready', () => {
      lastError = '';
      if (this.downSince.has(name)) {
        this.log.info(
          { client: name, downMs: Date.now() - this.downSince.get(name)! },
          'redis client reconnected',
        );
        this.downSince.delete(name);
      }
      this.onStateChange(this.isUp());
    });
    client.on('close', () => {
      if (this.closed) return;
      if (!this.downSince.has(name)) this.downSince.set(name, Date.now());
      this.onStateChange(false);
    });
    client.on('end', () => this.clients.delete(client));
    return client;
  }

  isUp(): boolean {
    return this.command.status === 'ready';
  }

  /**
   * Readiness check. One Redis: PING. A Redis Cluster: a read of the node registry's key, which
   * goes to the master of the coordination slot (a PING would go to any master and say `up`
   * while the master holding presence, connection slots and heartbeats is gone).
   */
  async ping(): Promise<boolean> {
    if (this.command.status !== 'ready') return false;
    try {
      if (this.clustered) {
        await this.command.exists(this.coordinationKey('nodes'));
        return true;
      }
      return (await this.command.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Waits (bounded) for the command client to be ready; false if it was not. */
  async waitReady(timeoutMs = 3000): Promise<boolean> {
    if (this.command.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.command.off('ready', onReady);
        resolve(v);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.command.on('ready', onReady);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.clients.keys()].map(async (c) => {
        // QUIT waits behind a blocking command (the streams adapter's XREAD BLOCK): bound it.
        try {
          if (c.status === 'ready') {
            await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 300).unref())]);
          }
        } catch {
          // closing anyway
        }
        c.disconnect();
      }),
    );
    this.clients.clear();
  }
}

export const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');
