import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { ConfigError, describeConfig, loadConfig, type AppConfig } from './config/config.js';

/** Pending connections the kernel queues before the server accepts them (see the listen call). */
const LISTEN_BACKLOG = 4096;

/** The one start-up line: where to point a browser or client, and what this node runs on. */
function startupSummary(app: INestApplication, config: AppConfig): Record<string, unknown> {
  const address = (app.getHttpServer() as import('node:http').Server).address() as AddressInfo;
  const host =
    !config.host || config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const demoUrl = config.demoEnabled ? `${url}/` : undefined;
  const parts = [
    `White Cross Realtime listening on ${url}`,
    demoUrl ? `demo page ${demoUrl}` : undefined,
    config.databaseUrl ? 'PostgreSQL' : 'embedded PostgreSQL (PGlite)',
    config.redis ? 'Redis' : 'no Redis (single node)',
  ].filter(Boolean);
  return {
    msg: parts.join(' · '),
    url,
    ...(demoUrl ? { demoUrl } : {}),
    port: address.port,
    config: describeConfig(config),
  };
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { createApp, stopApp } = await import('./app.factory.js');
  const { preflight } = await import('./preflight.js');
  try {
    await preflight(config);
  } catch (err) {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : String((err as Error)?.message ?? err)}\n`,
    );
    process.exit(1);
  }
  const app = await createApp({ config });
  // Node's default accept queue is 511. In a reconnect storm (thousands of clients at once after a
  // node restart) a busy event loop accepts more slowly than connections arrive; with the queue
  // full the kernel drops the handshake's final ACK, the client sends its upgrade request anyway
  // and gets a reset (ECONNRESET). 4096 (the kernel caps it at net.core.somaxconn) lets them wait.
  // Nest's listen passes extra arguments to http.Server#listen(port, host, backlog).
  const listen = app.listen.bind(app) as unknown as (
    port: number,
    host: string,
    backlog: number,
  ) => Promise<unknown>;
  await listen(config.port, config.host ?? '0.0.0.0', LISTEN_BACKLOG);
  const { Logger } = await import('nestjs-pino');
  const logger = app.get(Logger);
  logger.log(startupSummary(app, config), 'main');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.log({ msg: `${signal} received: shutting down`, signal }, 'main');
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5000);
    force.unref();
    stopApp(app, Math.max(1000, Math.floor(config.shutdownGraceMs / 2))).then(
      () => {
        logger.log({ msg: 'stopped', signal, durationMs: Date.now() - started }, 'main');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error(
          { msg: 'shutdown failed', signal, errorName: (err as Error)?.name ?? typeof err },
          'main',
        );
        process.exit(1);
      },
    );
  };
  // Last line of defence: a library promise rejected with nobody listening (e.g. a Redis command
  // during an outage) is logged by name and the node keeps serving; it must never end the process.
  process.on('unhandledRejection', (reason: unknown) => {
    const e = reason as Error | undefined;
    process.stdout.write(
      JSON.stringify({
        level: 50,
        time: Date.now(),
        msg: 'unhandled rejection',
        errorName: e?.name ?? typeof reason,
      }) + '\n',
    );
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`Failed to start: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`);
  process.exit(1);
});
