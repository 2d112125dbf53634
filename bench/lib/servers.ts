/**
 * Real server processes for a run: our server (`node dist/src/main.js`) on the embedded database
 * or a fresh PostgreSQL database, and the bare Socket.IO baseline (`node dist/bench/baseline-server.js`).
 * Everything listens on 127.0.0.1 and is killed (by pid) when the scenario ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
/** Where our server's build lives: this checkout, or another built checkout to compare against. */
export const SERVER_ROOT = process.env.BENCH_SERVER_ROOT ?? ROOT;
export const PG_ADMIN_URL =
  process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type ServerKind = 'bare' | 'ours';
export type DbKind = 'embedded' | 'postgres' | 'none';

export interface ServerOptions {
  kind: ServerKind;
  db: DbKind;
  secret: string;
  /** Extra env (WS_PING_INTERVAL_MS, WS_MAX_CONNECTIONS_PER_USER, REDIS_URL…). */
  env?: Record<string, string>;
  /** Reuse an existing database (multi-node); otherwise a fresh one is made for this server. */
  databaseUrl?: string;
  /** Write a V8 CPU profile into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  /** Our server on PostgreSQL: count the statements it sends (sql-counter.ts). */
  countSql?: boolean;
  label: string;
}

export interface RunningServer {
  label: string;
  kind: ServerKind;
  db: DbKind;
  pid: number;
  url: string;
  port: number;
  databaseUrl?: string;
  databaseName?: string;
  stderrTail: string[];
  /** Wall-clock ms when the process was spawned (≈ the start of its CPU profile). */
  spawnedAt: number;
  /** Statements sent to PostgreSQL so far (within 100 ms), when started with `countSql`. */
  sqlCount?: () => number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function redisAvailable(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** `createdb` for one run: a fresh database of its own; returns its URL and a drop function. */
export async function createDatabase(
  label: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `wcr_bench_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}

/** PostgreSQL backend pids serving one database (their CPU is the server's cost too). */
export async function postgresBackendPids(databaseName: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [databaseName],
    );
    return r.rows.map((row) => row.pid);
  } finally {
    await c.end();
  }
}

const HIGH_LIMITS = JSON.stringify({
  'message:send': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'message:typing': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'conversation:join': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'conversation:create': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'http:api': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  default: { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'handshake:ip': { maxTokens: 100_000_000, refillIntervalMs: 1 },
  'handshake:user': { maxTokens: 100_000_000, refillIntervalMs: 1 },
});

/** Starts one server process and waits until it answers /health (our server: /ready). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const cleanups: Array<() => Promise<void> | void> = [];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET: opts.secret,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    DEMO_ENABLED: 'false',
    RATE_LIMITS: HIGH_LIMITS,
    WS_MAX_CONNECTIONS_PER_USER: '1000',
    ALERT_RESEND_INTERVAL_MS: '600000',
    ...opts.env,
  };
  let databaseUrl: string | undefined;
  let databaseName: string | undefined;
  if (opts.kind === 'ours') {
    if (opts.db === 'postgres') {
      if (opts.databaseUrl) {
        databaseUrl = opts.databaseUrl;
      } else {
        const db = await createDatabase(opts.label);
        databaseUrl = db.url;
        cleanups.push(db.drop);
      }
      databaseName = new URL(databaseUrl).pathname.slice(1);
      env.DATABASE_URL = databaseUrl;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'wcr-bench-'));
      env.DATA_DIR = dir;
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    }
  }
  const script = opts.kind === 'ours' ? 'dist/src/main.js' : 'dist/bench/baseline-server.js';
  const nodeArgs = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  let sqlCount: (() => number) | undefined;
  if (opts.countSql && opts.kind === 'ours' && opts.db === 'postgres') {
    const dir = mkdtempSync(join(tmpdir(), 'wcr-bench-sql-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    env.BENCH_SQL_COUNT_FILE = join(dir, 'count');
    nodeArgs.push('--import', join(ROOT, 'dist', 'bench', 'lib', 'sql-counter.js'));
    sqlCount = () => {
      try {
        return Number(readFileSync(env.BENCH_SQL_COUNT_FILE, 'utf8'));
      } catch {
        return NaN;
      }
    };
  }
  const spawnedAt = Date.now();
  // BENCH_SERVER_LOG_DIR: our servers' log lines (stdout) go to <dir>/<label>-<port>.log, to see
  // what a server said during a run (LOG_LEVEL warn unless the scenario sets another).
  const logDir = opts.kind === 'ours' ? process.env.BENCH_SERVER_LOG_DIR : undefined;
  const logFd = logDir
    ? openSync(join(logDir, `${opts.label.replace(/[^a-zA-Z0-9-]+/g, '_')}-${port}.log`), 'a')
    : undefined;
  const proc: ChildProcess = spawn(process.execPath, [...nodeArgs, script], {
    cwd: opts.kind === 'ours' ? SERVER_ROOT : ROOT,
    env,
    stdio: ['ignore', logFd ?? 'ignore', 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd);
  const stderrTail: string[] = [];
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderrTail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (stderrTail.length > 40) stderrTail.splice(0, stderrTail.length - 40);
  });
  const exited = once(proc, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    for (const c of cleanups.reverse()) await c();
  };
  const healthPath = opts.kind === 'ours' ? '/ready' : '/health';
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`${opts.label} exited during start: ${stderrTail.slice(-5).join(' | ')}`);
    }
    try {
      const res = await fetch(url + healthPath);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await stop();
      throw new Error(`${opts.label} did not become ready in 120 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    label: opts.label,
    kind: opts.kind,
    db: opts.db,
    pid: proc.pid!,
    url,
    port,
    databaseUrl,
    databaseName,
    stderrTail,
    spawnedAt,
    ...(sqlCount ? { sqlCount } : {}),
    stop,
  };
}
