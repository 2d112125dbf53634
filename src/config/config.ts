import { createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import proxyaddr from 'proxy-addr';

/** A configuration problem: printed as one line naming the variable, then exit code 1. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export const RATE_LIMIT_KEYS = [
  'message:send',
  'message:typing',
  'message:edit',
  'message:delete',
  'conversation:join',
  'default',
  'handshake:ip',
  // §12.3
  'conversation:create',
  'handshake:user',
  'http:api',
  'http:auth-failure',
] as const;
export type RateLimitKey = (typeof RATE_LIMIT_KEYS)[number];

export interface BucketSpec {
  maxTokens: number;
  refillIntervalMs: number;
}

/** §7 defaults plus §11's `handshake:ip` and §12.3's buckets. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitKey, BucketSpec>> = {
  'message:send': { maxTokens: 10, refillIntervalMs: 6000 },
  'message:typing': { maxTokens: 5, refillIntervalMs: 2000 },
  'message:edit': { maxTokens: 3, refillIntervalMs: 20000 },
  'message:delete': { maxTokens: 3, refillIntervalMs: 20000 },
  'conversation:join': { maxTokens: 20, refillIntervalMs: 3000 },
  default: { maxTokens: 60, refillIntervalMs: 100 },
  'handshake:ip': { maxTokens: 100, refillIntervalMs: 20 },
  'conversation:create': { maxTokens: 5, refillIntervalMs: 10000 },
  'handshake:user': { maxTokens: 30, refillIntervalMs: 1000 },
  'http:api': { maxTokens: 100, refillIntervalMs: 50 },
  'http:auth-failure': { maxTokens: 20, refillIntervalMs: 1000 },
};

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface JwtConfig {
  /** The key's algorithm (with a JWKS and no JWT_ALGORITHM: RS256, the first of `algorithms`). */
  algorithm: JwtAlgorithm;
  /**
   * The algorithms a token may be signed with, pinned to what the configured key allows: HS256
   * with a secret, the key's own with a PEM, RS256 and ES256 with a JWKS (or JWT_ALGORITHM's one).
   * Never `none`, never HS with a public key.
   */
  algorithms: JwtAlgorithm[];
  /** HS256 secret as the UTF-8 bytes of JWT_SECRET (or the generated one). */
  secret?: Uint8Array;
  /** Where a generated development secret lives (so the token CLI can reuse it). */
  secretSource: 'env' | 'generated' | 'none';
  publicKeyPem?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  clockToleranceSec: number;
}

export interface RedisConfig {
  /**
   * `single`: one Redis (REDIS_URL / REDIS_HOST, also a Sentinel-less primary). `cluster`: a Redis
   * Cluster reached through the REDIS_CLUSTER_NODES seeds; every client is an ioredis `Cluster`.
   */
  mode: 'single' | 'cluster';
  url?: string;
  /** Single mode: the server. Cluster mode: the first seed (for log lines). */
  host: string;
  port: number;
  /** Cluster mode: the seed nodes (any subset of the cluster; the rest is discovered). */
  clusterNodes?: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  /** Prefix for every key and channel this service uses (lets tests and tenants share a server). */
  keyPrefix: string;
  /**
   * Socket.IO cluster adapter: Redis pub/sub (`pubsub`, default in single mode), Redis streams
   * (`streams`) or sharded pub/sub (`sharded`, Redis 7 SPUBLISH/SSUBSCRIBE; the only one in
   * cluster mode).
   */
  adapter: 'pubsub' | 'streams' | 'sharded';
  /** The sharded adapter's subscriptionMode (REDIS_SHARDED_SUBSCRIPTION_MODE, docs/scaling.md). */
  shardedSubscriptionMode: 'static' | 'dynamic' | 'dynamic-private';
  /** A node whose heartbeat is older than this is dead: its sockets and presence sessions stop counting. */
  nodeTtlMs: number;
  /**
   * Every Redis command fails after this long without an answer (a hung Redis), and the same
   * fallbacks as for a refused connection engage (§12.8).
   */
  commandTimeoutMs: number;
}

/** Alert escalation to a webhook (§12.7); absent when ALERT_ESCALATION_WEBHOOK_URL is unset. */
export interface AlertEscalationConfig {
  webhookUrl: string;
  /** HMAC-SHA256 key: the UTF-8 bytes of ALERT_ESCALATION_SECRET. */
  secret: Uint8Array;
  /** An unacknowledged alert escalates this long after its creation. */
  afterMs: number;
  /** Timeout of one webhook attempt (5 s; ALERT_ESCALATION_ATTEMPT_TIMEOUT_MS exists for tests). */
  attemptTimeoutMs: number;
}

export interface AppConfig {
  nodeEnv: string;
  isProduction: boolean;
  port: number;
  host?: string;
  jwt: JwtConfig;
  corsOrigins: string[];
  databaseUrl?: string;
  /** DATABASE_QUERY_TIMEOUT_MS: a PostgreSQL statement unanswered this long fails. */
  databaseQueryTimeoutMs: number;
  dataDir: string;
  redis?: RedisConfig;
  rateLimits: Record<RateLimitKey, BucketSpec>;
  ws: {
    allowQueryToken: boolean;
    maxConnectionsPerUser: number;
    maxBufferedBytes: number;
    maxPayloadBytes: number;
    pingIntervalMs: number;
    pingTimeoutMs: number;
    /** An Engine.IO connection without a namespace handshake within this is closed (§12.3). */
    connectTimeoutMs: number;
  };
  /** TRUST_PROXY: proxies whose X-Forwarded-For is believed (addresses, CIDRs); empty = none. */
  trustProxy: string[];
  alertResendIntervalMs: number;
  alertEscalation?: AlertEscalationConfig;
  logLevel: string;
  /** `pretty` (human-readable) or `json` lines; `auto`: pretty on a terminal outside production. */
  logFormat: 'auto' | 'json' | 'pretty';
  shutdownGraceMs: number;
  /** Budget of the node's conversation cache, in estimated heap bytes (§12.3). */
  conversationCacheBytes: number;
  /**
   * Development conveniences (demo page, demo token endpoint), §12.3: on only when NODE_ENV is
   * development (or unset) and the JWT key is the generated development secret, or when
   * DEMO_ENABLED=true forces them outside production. Never on in production.
   */
  demoEnabled: boolean;
  /**
   * Why the demo is in the state it is when that deserves a warning at every start: `forced`
   * (DEMO_ENABLED=true outside production) or `refused-in-production` (DEMO_ENABLED=true ignored).
   */
  demoWarning?: 'forced' | 'refused-in-production';
  nodeId: string;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/**
 * TRUST_PROXY: comma-separated IPv4/IPv6 addresses or CIDRs (and proxy-addr's names `loopback`,
 * `linklocal`, `uniquelocal`). Validated here with the library that applies it.
 */
export function parseTrustProxy(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of list) {
    try {
      proxyaddr.compile(entry);
    } catch {
      throw new ConfigError('TRUST_PROXY', `has an invalid address or CIDR "${entry}"`);
    }
  }
  return list;
}

export function parseRateLimits(raw: string | undefined): Record<RateLimitKey, BucketSpec> {
  const limits: Record<RateLimitKey, BucketSpec> = { ...DEFAULT_RATE_LIMITS };
  if (raw === undefined) return limits;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('RATE_LIMITS', 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('RATE_LIMITS', 'must be a JSON object keyed by event');
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(RATE_LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(
        'RATE_LIMITS',
        `has unknown key "${key}" (allowed: ${RATE_LIMIT_KEYS.join(', ')})`,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(
        'RATE_LIMITS',
        `"${key}" must be an object {maxTokens, refillIntervalMs}`,
      );
    }
    const spec = { ...limits[key as RateLimitKey] };
    for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
      if (field !== 'maxTokens' && field !== 'refillIntervalMs') {
        throw new ConfigError('RATE_LIMITS', `"${key}" has unknown field "${field}"`);
      }
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
        throw new ConfigError('RATE_LIMITS', `"${key}.${field}" must be a positive integer`);
      }
      spec[field] = v;
    }
    limits[key as RateLimitKey] = spec;
  }
  return limits;
}

/** REDIS_CLUSTER_NODES: "host:port,host:port" (IPv6 as "[::1]:7000"). */
function parseClusterNodes(raw: string): Array<{ host: string; port: number }> {
  const nodes = raw.split(',').map((part) => {
    const seed = part.trim();
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(seed);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535)
      throw new ConfigError(
        'REDIS_CLUSTER_NODES',
        `must be comma-separated host:port seeds, got "${seed}"`,
      );
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
  return nodes;
}

function parseRedis(env: Env, production: boolean): RedisConfig | undefined {
  const url = str(env, 'REDIS_URL');
  const host = str(env, 'REDIS_HOST');
  const seeds = str(env, 'REDIS_CLUSTER_NODES');
  const keyPrefix = str(env, 'REDIS_KEY_PREFIX') ?? 'wcr:';
  const adapter = str(env, 'REDIS_ADAPTER') ?? (seeds ? 'sharded' : 'pubsub');
  if (adapter !== 'pubsub' && adapter !== 'streams' && adapter !== 'sharded')
    throw new ConfigError('REDIS_ADAPTER', 'must be pubsub, streams or sharded');
  // static: measured in docs/scaling.md (the app's emits mostly name several rooms, which use the
  // main channel in every mode; dynamic adds an SSUBSCRIBE/SUNSUBSCRIBE per room and node).
  const shardedSubscriptionMode = str(env, 'REDIS_SHARDED_SUBSCRIPTION_MODE') ?? 'static';
  if (
    shardedSubscriptionMode !== 'static' &&
    shardedSubscriptionMode !== 'dynamic' &&
    shardedSubscriptionMode !== 'dynamic-private'
  )
    throw new ConfigError(
      'REDIS_SHARDED_SUBSCRIPTION_MODE',
      'must be static, dynamic or dynamic-private',
    );
  const nodeTtlMs = int(env, 'REDIS_NODE_TTL_MS', 15000, 1000, 600000);
  const commandTimeoutMs = int(env, 'REDIS_COMMAND_TIMEOUT_MS', 500, 50, 60000);
  const common = {
    keyPrefix,
    adapter,
    shardedSubscriptionMode,
    nodeTtlMs,
    commandTimeoutMs,
  } as const;
  if (seeds) {
    // One way to say where Redis is: a cluster seed list next to a single server is a mistake
    // (which one was meant?), refused rather than silently preferring one.
    if (url || host)
      throw new ConfigError(
        'REDIS_CLUSTER_NODES',
        `cannot be combined with ${url ? 'REDIS_URL' : 'REDIS_HOST'}: set one of them`,
      );
    if (adapter !== 'sharded')
      throw new ConfigError(
        'REDIS_ADAPTER',
        `must be sharded with REDIS_CLUSTER_NODES (got "${adapter}": classic pub/sub would broadcast every message to every shard, a stream lives in one slot)`,
      );
    // Every coordination key is tagged "{<prefix>}" (docs/scaling.md): a brace inside the
    // prefix would change which part of the key picks the slot.
    if (/[{}]/.test(keyPrefix))
      throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain { or } in cluster mode');
    const clusterNodes = parseClusterNodes(seeds);
    return {
      mode: 'cluster',
      host: clusterNodes[0].host,
      port: clusterNodes[0].port,
      clusterNodes,
      username: str(env, 'REDIS_USERNAME'),
      password: str(env, 'REDIS_PASSWORD'),
      ...common,
    };
  }
  if (url) {
    if (!/^rediss?:\/\//.test(url))
      throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
    const u = new URL(url);
    return {
      mode: 'single',
      url,
      host: u.hostname,
      port: u.port ? Number(u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      ...common,
    };
  }
  if (host) {
    return {
      mode: 'single',
      host,
      port: int(env, 'REDIS_PORT', 6379, 1, 65535),
      username: str(env, 'REDIS_USERNAME'),
      password: str(env, 'REDIS_PASSWORD'),
      ...common,
    };
  }
  if (production)
    throw new ConfigError('REDIS_URL', 'is required in production (or REDIS_CLUSTER_NODES)');
  return undefined;
}

function loadOrCreateSecret(dataDir: string): Uint8Array {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return new TextEncoder().encode(secret);
}

function parseJwt(env: Env, production: boolean, dataDir: string): JwtConfig {
  const clockToleranceSec = int(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 30, 0, 3600);
  const issuer = str(env, 'JWT_ISSUER');
  const audience = str(env, 'JWT_AUDIENCE');
  const rawPem = str(env, 'JWT_PUBLIC_KEY');
  const jwksUrl = str(env, 'JWT_JWKS_URL');
  const secretRaw = env.JWT_SECRET;
  const base = { issuer, audience, clockToleranceSec };
  if (rawPem) {
    const pem = rawPem.replace(/\\n/g, '\n');
    let type: string | undefined;
    try {
      type = createPublicKey(pem).asymmetricKeyType;
    } catch {
      throw new ConfigError('JWT_PUBLIC_KEY', 'is not a PEM public key');
    }
    if (type !== 'rsa' && type !== 'ec')
      throw new ConfigError('JWT_PUBLIC_KEY', 'must be an RSA or EC (P-256) key');
    const algorithm = type === 'rsa' ? 'RS256' : 'ES256';
    return {
      ...base,
      algorithm,
      algorithms: [algorithm],
      publicKeyPem: pem,
      secretSource: 'none',
    };
  }
  if (jwksUrl) {
    if (!/^https?:\/\//.test(jwksUrl))
      throw new ConfigError('JWT_JWKS_URL', 'must be an http(s) URL');
    // Unset: whatever the set's RSA and EC (P-256) keys allow; jose matches a token's `alg` to a
    // key of the right type (and the key's own `alg` when it has one).
    const alg = str(env, 'JWT_ALGORITHM');
    if (alg !== undefined && alg !== 'RS256' && alg !== 'ES256')
      throw new ConfigError('JWT_ALGORITHM', 'must be RS256 or ES256 with JWT_JWKS_URL');
    const algorithms: JwtAlgorithm[] = alg ? [alg] : ['RS256', 'ES256'];
    return { ...base, algorithm: algorithms[0], algorithms, jwksUrl, secretSource: 'none' };
  }
  if (secretRaw !== undefined && secretRaw !== '') {
    const secret = new TextEncoder().encode(secretRaw);
    if (production && secret.byteLength < 32)
      throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes in production');
    return { ...base, algorithm: 'HS256', algorithms: ['HS256'], secret, secretSource: 'env' };
  }
  if (production)
    throw new ConfigError(
      'JWT_SECRET',
      'is required in production (or JWT_PUBLIC_KEY / JWT_JWKS_URL)',
    );
  return {
    ...base,
    algorithm: 'HS256',
    algorithms: ['HS256'],
    secret: loadOrCreateSecret(dataDir),
    secretSource: 'generated',
  };
}

function parseCors(env: Env, production: boolean): string[] {
  const raw = str(env, 'CORS_ORIGIN');
  if (raw === undefined) {
    if (production) throw new ConfigError('CORS_ORIGIN', 'is required in production');
    return ['http://localhost:5173'];
  }
  const origins = raw
    .split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  if (origins.includes('*'))
    throw new ConfigError('CORS_ORIGIN', 'must list origins; "*" is refused');
  for (const o of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o))
      throw new ConfigError('CORS_ORIGIN', `has a malformed origin "${o}"`);
  }
  return origins;
}

function parseAlertEscalation(env: Env, production: boolean): AlertEscalationConfig | undefined {
  const afterMs = int(env, 'ALERT_ESCALATION_AFTER_MS', 120000, 100, 7 * 24 * 3600 * 1000);
  const attemptTimeoutMs = int(env, 'ALERT_ESCALATION_ATTEMPT_TIMEOUT_MS', 5000, 100, 60000);
  const raw = str(env, 'ALERT_ESCALATION_WEBHOOK_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('ALERT_ESCALATION_WEBHOOK_URL', 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError('ALERT_ESCALATION_WEBHOOK_URL', 'must be an http(s) URL');
  if (url.username !== '' || url.password !== '')
    throw new ConfigError(
      'ALERT_ESCALATION_WEBHOOK_URL',
      'must not carry user:password@ (fetch refuses it; use a token in the path or query)',
    );
  if (production && url.protocol !== 'https:')
    throw new ConfigError('ALERT_ESCALATION_WEBHOOK_URL', 'must be an https: URL in production');
  const secretRaw = env.ALERT_ESCALATION_SECRET;
  if (secretRaw === undefined || secretRaw === '')
    throw new ConfigError(
      'ALERT_ESCALATION_SECRET',
      'is required when ALERT_ESCALATION_WEBHOOK_URL is set',
    );
  const secret = new TextEncoder().encode(secretRaw);
  if (production && secret.byteLength < 32)
    throw new ConfigError('ALERT_ESCALATION_SECRET', 'must be at least 32 bytes in production');
  return { webhookUrl: url.toString(), secret, afterMs, attemptTimeoutMs };
}

/**
 * §12.3: the demo page and `/demo/token` (which mints tokens with the server's own key) exist only
 * in development with the generated development secret. `DEMO_ENABLED=true` forces them on outside
 * production (with a warning at every start); in production they never exist (DEMO_ENABLED=true is
 * ignored, with a warning). `DEMO_ENABLED=false` turns them off anywhere.
 */
function demoSetting(
  env: Env,
  nodeEnv: string,
  isProduction: boolean,
  jwt: JwtConfig,
): Pick<AppConfig, 'demoEnabled' | 'demoWarning'> {
  const raw = str(env, 'DEMO_ENABLED');
  const asked = raw === undefined ? undefined : bool(env, 'DEMO_ENABLED', false);
  if (isProduction)
    return { demoEnabled: false, ...(asked ? { demoWarning: 'refused-in-production' } : {}) };
  if (asked === true) return { demoEnabled: true, demoWarning: 'forced' };
  if (asked === false) return { demoEnabled: false };
  return {
    demoEnabled:
      (str(env, 'NODE_ENV') === undefined || nodeEnv === 'development') &&
      jwt.secretSource === 'generated',
  };
}

/** Parses and validates the environment once. Nothing else in the service reads process.env. */
export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  const isProduction = nodeEnv === 'production';
  const port = int(env, 'PORT', 3000, 0, 65535);
  const dataDir = resolve(str(env, 'DATA_DIR') ?? './data');
  const databaseUrl = str(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// connection string');
  }
  if (isProduction && !databaseUrl)
    throw new ConfigError('DATABASE_URL', 'is required in production');
  const logLevel = str(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = str(env, 'LOG_FORMAT') ?? 'auto';
  if (logFormat !== 'auto' && logFormat !== 'json' && logFormat !== 'pretty')
    throw new ConfigError('LOG_FORMAT', 'must be json, pretty or auto');
  const corsOrigins = parseCors(env, isProduction);
  const redis = parseRedis(env, isProduction);
  const rateLimits = parseRateLimits(str(env, 'RATE_LIMITS'));
  const jwt = parseJwt(env, isProduction, dataDir);
  const alertEscalation = parseAlertEscalation(env, isProduction);
  return {
    nodeEnv,
    isProduction,
    port,
    host: str(env, 'HOST'),
    jwt,
    corsOrigins,
    databaseUrl,
    databaseQueryTimeoutMs: int(env, 'DATABASE_QUERY_TIMEOUT_MS', 30000, 100, 600000),
    dataDir,
    redis,
    rateLimits,
    ws: {
      allowQueryToken: bool(env, 'WS_ALLOW_QUERY_TOKEN', !isProduction),
      maxConnectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 10, 1, 100000),
      maxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 1048576, 1024),
      maxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 65536, 1024, 100 * 1024 * 1024),
      pingIntervalMs: int(env, 'WS_PING_INTERVAL_MS', 25000, 100),
      pingTimeoutMs: int(env, 'WS_PING_TIMEOUT_MS', 60000, 100),
      connectTimeoutMs: int(env, 'WS_CONNECT_TIMEOUT_MS', 10000, 100, 600000),
    },
    trustProxy: parseTrustProxy(str(env, 'TRUST_PROXY')),
    alertResendIntervalMs: int(env, 'ALERT_RESEND_INTERVAL_MS', 60000, 50),
    ...(alertEscalation ? { alertEscalation } : {}),
    logLevel,
    logFormat,
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    conversationCacheBytes: int(
      env,
      'CONVERSATION_CACHE_BYTES',
      32 * 1024 * 1024,
      65536,
      64 * 1024 * 1024,
    ),
    ...demoSetting(env, nodeEnv, isProduction, jwt),
    nodeId: str(env, 'NODE_ID') ?? `${process.pid}-${randomBytes(3).toString('hex')}`,
  };
}

/** The effective configuration with secrets removed, for the start-up log line. */
export function describeConfig(c: AppConfig): Record<string, unknown> {
  return {
    nodeEnv: c.nodeEnv,
    port: c.port,
    jwtAlgorithm: c.jwt.algorithms.join(','),
    jwtKeySource: c.jwt.publicKeyPem ? 'public-key' : c.jwt.jwksUrl ? 'jwks' : c.jwt.secretSource,
    jwtIssuer: c.jwt.issuer ?? null,
    jwtAudience: c.jwt.audience ?? null,
    corsOrigins: c.corsOrigins,
    database: c.databaseUrl ? 'postgresql' : `embedded (${c.dataDir})`,
    redis: !c.redis
      ? 'disabled (single node, in memory)'
      : c.redis.mode === 'cluster'
        ? `cluster (${c.redis.clusterNodes!.map((n) => `${n.host}:${n.port}`).join(',')})`
        : `${c.redis.host}:${c.redis.port}`,
    redisAdapter: c.redis
      ? c.redis.adapter === 'sharded'
        ? `sharded (${c.redis.shardedSubscriptionMode})`
        : c.redis.adapter
      : null,
    rateLimits: c.rateLimits,
    ws: c.ws,
    trustProxy: c.trustProxy,
    alertResendIntervalMs: c.alertResendIntervalMs,
    // The webhook's origin only: a path or query may carry the receiver's integration key.
    alertEscalation: c.alertEscalation
      ? {
          webhookOrigin: new URL(c.alertEscalation.webhookUrl).origin,
          afterMs: c.alertEscalation.afterMs,
        }
      : 'disabled',
    nodeId: c.nodeId,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
