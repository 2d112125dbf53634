import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { createApp, stopApp } from '../../src/app.factory.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { openPglite, openPostgres, type DatabaseHandle } from '../../src/persistence/database.js';
import { createTestDatabase } from './services.js';
import { TEST_JWT_SECRET } from './tokens.js';

export interface TestServer {
  app: INestApplication;
  url: string;
  port: number;
  config: AppConfig;
  database: DatabaseHandle;
  /** Every log line the server wrote, as raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment (the same variables as in production: RATE_LIMITS, REDIS_URL, …). */
  env?: Record<string, string>;
  /** A PostgreSQL URL to use instead of an in-memory PGlite. */
  databaseUrl?: string;
  /** Reuse an open database (e.g. to restart a server on the same data). */
  database?: DatabaseHandle;
  /** Keep the database open when the server closes. */
  keepDatabase?: boolean;
}

let templateBlob: Blob | undefined;
function template(): Blob {
  if (!templateBlob) {
    const file = process.env.WCR_PGLITE_TEMPLATE;
    if (!file) throw new Error('global setup did not prepare the PGlite template');
    templateBlob = new Blob([readFileSync(file)]);
  }
  return templateBlob;
}

/** A fresh migrated in-memory PGlite in about a second. */
export function freshPglite(): Promise<DatabaseHandle> {
  return openPglite({ template: template() });
}

/**
 * Starts the real application in this process on an ephemeral port (`listen(0)`), with a
 * database of its own and the log lines captured.
 */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wcr-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'debug',
    // Tests open many sockets from one IP and of one user; they test these limits explicitly
    // with RATE_LIMITS.
    RATE_LIMITS: JSON.stringify({
      'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
      'handshake:user': { maxTokens: 100000, refillIntervalMs: 1 },
    }),
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const database =
    options.database ??
    (options.databaseUrl
      ? await openPostgres(options.databaseUrl, { queryTimeoutMs: config.databaseQueryTimeoutMs })
      : await freshPglite());
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(line);
      cb();
    },
  });
  const app = await createApp({
    config,
    database: { ...database, close: async () => undefined },
    logDestination: destination,
  });
  await app.listen(0, '127.0.0.1');
  const port = ((app.getHttpServer() as import('node:http').Server).address() as AddressInfo).port;
  let closed = false;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    database,
    logs,
    close: async () => {
      if (closed) return;
      closed = true;
      await stopApp(app);
      if (!options.keepDatabase && !options.database) await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ServerFixtureOptions {
  /** Start nothing: the suite's tests are skipped (e.g. a service it needs is missing). */
  skip?: boolean;
  /**
   * Run on a fresh PostgreSQL database of the shared server (`createTestDatabase(label)`),
   * dropped after the server closes; without it the server has an in-memory PGlite.
   */
  postgres?: string;
  /**
   * Runs after the server closed and before its `postgres` database is dropped: closes what the
   * suite put between them in `options` (a TCP proxy in front of the database).
   */
  afterClose?: () => void | Promise<void>;
}

/** What an `options` function of `useServer` is given. */
export interface ServerFixtureContext {
  /**
   * The URL of the fixture's own database (with `postgres`): the server's `databaseUrl` unless
   * `options` sets another (a proxy's in front of it).
   */
  databaseUrl?: string;
}

/**
 * The server of a suite: started before its tests (`beforeAll`) and closed after them
 * (`afterAll`; vitest runs after-hooks in reverse order, so the suite's own after-hooks, e.g.
 * closing its sockets, run first). Call it inside `describe` (or at a file's top level):
 *
 *   const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });
 *   it('…', async () => { await connect(srv.url, token); });
 *
 * `options` may be a function for settings known only when the suite starts (a database created
 * in an earlier `beforeAll`, a receiver's URL, a proxy in front of the fixture's own database,
 * whose URL it is given). The returned object reads the running server, so it is used like the
 * `TestServer` itself; touching it before the suite started throws. What must outlive the server
 * (a webhook receiver) is started and stopped by hooks declared before `useServer`; what must stop
 * before it (sockets, a cut proxy's restore) by hooks declared after it; what must stop after it
 * but before the database is dropped (the proxy itself) by `afterClose`.
 */
export function useServer(
  options:
    StartOptions | ((context: ServerFixtureContext) => StartOptions | Promise<StartOptions>) = {},
  fixture: ServerFixtureOptions = {},
): TestServer {
  let server: TestServer | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (fixture.skip) return;
    const context: ServerFixtureContext = {};
    if (fixture.postgres) {
      const db = await createTestDatabase(fixture.postgres);
      dropDatabase = db.drop;
      context.databaseUrl = db.url;
    }
    const resolved = typeof options === 'function' ? await options(context) : options;
    server = await startServer({ databaseUrl: context.databaseUrl, ...resolved });
  });
  afterAll(async () => {
    if (fixture.skip) return;
    try {
      await server?.close();
    } finally {
      try {
        await fixture.afterClose?.();
      } finally {
        await dropDatabase?.();
      }
    }
  });
  const running = (): TestServer => {
    if (!server) throw new Error('useServer: the suite has not started its server');
    return server;
  };
  return {
    get app() {
      return running().app;
    },
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
    get config() {
      return running().config;
    },
    get database() {
      return running().database;
    },
    get logs() {
      return running().logs;
    },
    close: () => running().close(),
  };
}
