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
  'handshake:user',
] as const;
export type RateLimitKey = (typeof RATE_LIMIT_KEYS)[number];

export interface BucketSpec {
  maxTokens: number;
  refillIntervalMs: number;
}

/** §7 defaults plus §11's `handshake:ip`. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitKey, BucketSpec>> = {
  'message:send': { maxTokens: 10, refillIntervalMs: 6000 },
  'message:typing': { maxTokens: 5, refillIntervalMs: 2000 },
  'message:edit': { maxTokens: 3, refillIntervalMs: 20000 },
  'message:delete': { maxTokens: 3, refillIntervalMs: 20000 },
  'conversation:join': { maxTokens: 20, refillIntervalMs: 3000 },
  default: { maxTokens: 60, refillIntervalMs: 100 },
  'handshake:ip': { maxTokens: 100, refillIntervalMs: 20 },
  'handshake:user': { maxTokens: 30, refillIntervalMs: 1000 },
};

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface JwtConfig {
  algorithm: JwtAlgorithm;
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
  url?: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Prefix for every key and channel this service uses (lets tests and tenants share a server). */
  keyPrefix: string;
  /** Socket.IO cluster adapter: Redis pub/sub (`pubsub`, default) or Redis streams (`streams`). */
  adapter: 'pubsub' | 'streams';
  /** A node whose heartbeat is older than this is dead: its sockets and presence sessions stop counting. */
  nodeTtlMs: number;
}

export interface AppConfig {
  nodeEnv: string;
  isProduction: boolean;
  port: number;
  host?: string;
  jwt: JwtConfig;
  corsOrigins: string[];
  databaseUrl?: string;
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
  logLevel: string;
  shutdownGraceMs: number;
  /** Development conveniences (demo page, demo token endpoint); never on in production. */
  demoEnabled: boolean;
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

function parseRedis(env: Env, production: boolean): RedisConfig | undefined {
  const url = str(env, 'REDIS_URL');
  const host = str(env, 'REDIS_HOST');
  const keyPrefix = str(env, 'REDIS_KEY_PREFIX') ?? 'wcr:';
  const adapter = str(env, 'REDIS_ADAPTER') ?? 'pubsub';
  if (adapter !== 'pubsub' && adapter !== 'streams')
    throw new ConfigError('REDIS_ADAPTER', 'must be pubsub or streams');
  const nodeTtlMs = int(env, 'REDIS_NODE_TTL_MS', 15000, 1000, 600000);
  const common = { keyPrefix, adapter, nodeTtlMs } as const;
  if (url) {
    if (!/^rediss?:\/\//.test(url))
      throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
    const u = new URL(url);
    return {
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
      host,
      port: int(env, 'REDIS_PORT', 6379, 1, 65535),
      username: str(env, 'REDIS_USERNAME'),
      password: str(env, 'REDIS_PASSWORD'),
      ...common,
    };
  }
  if (production) throw new ConfigError('REDIS_URL', 'is required in production');
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
    return {
      ...base,
      algorithm: type === 'rsa' ? 'RS256' : 'ES256',
      publicKeyPem: pem,
      secretSource: 'none',
    };
  }
  if (jwksUrl) {
    if (!/^https?:\/\//.test(jwksUrl))
      throw new ConfigError('JWT_JWKS_URL', 'must be an http(s) URL');
    const alg = str(env, 'JWT_ALGORITHM') ?? 'RS256';
    if (alg !== 'RS256' && alg !== 'ES256')
      throw new ConfigError('JWT_ALGORITHM', 'must be RS256 or ES256 with JWT_JWKS_URL');
    return { ...base, algorithm: alg, jwksUrl, secretSource: 'none' };
  }
  if (secretRaw !== undefined && secretRaw !== '') {
    const secret = new TextEncoder().encode(secretRaw);
    if (production && secret.byteLength < 32)
      throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes in production');
    return { ...base, algorithm: 'HS256', secret, secretSource: 'env' };
  }
  if (production)
    throw new ConfigError(
      'JWT_SECRET',
      'is required in production (or JWT_PUBLIC_KEY / JWT_JWKS_URL)',
    );
  return {
    ...base,
    algorithm: 'HS256',
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
  const corsOrigins = parseCors(env, isProduction);
  const redis = parseRedis(env, isProduction);
  const rateLimits = parseRateLimits(str(env, 'RATE_LIMITS'));
  const jwt = parseJwt(env, isProduction, dataDir);
  return {
    nodeEnv,
    isProduction,
    port,
    host: str(env, 'HOST'),
    jwt,
    corsOrigins,
    databaseUrl,
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
    logLevel,
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    demoEnabled: !isProduction && bool(env, 'DEMO_ENABLED', true),
    nodeId: str(env, 'NODE_ID') ?? `${process.pid}-${randomBytes(3).toString('hex')}`,
  };
}

/** The effective configuration with secrets removed, for the start-up log line. */
export function describeConfig(c: AppConfig): Record<string, unknown> {
  return {
    nodeEnv: c.nodeEnv,
    port: c.port,
    jwtAlgorithm: c.jwt.algorithm,
    jwtKeySource: c.jwt.publicKeyPem ? 'public-key' : c.jwt.jwksUrl ? 'jwks' : c.jwt.secretSource,
    jwtIssuer: c.jwt.issuer ?? null,
    jwtAudience: c.jwt.audience ?? null,
    corsOrigins: c.corsOrigins,
    database: c.databaseUrl ? 'postgresql' : `embedded (${c.dataDir})`,
    redis: c.redis ? `${c.redis.host}:${c.redis.port}` : 'disabled (single node, in memory)',
    rateLimits: c.rateLimits,
    ws: c.ws,
    trustProxy: c.trustProxy,
    alertResendIntervalMs: c.alertResendIntervalMs,
    nodeId: c.nodeId,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
