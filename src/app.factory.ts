import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { InFlightTracker } from './gateway/in-flight.js';
import { HealthService } from './health/health.service.js';
import { installDemoStatic } from './demo/demo-static.js';
import { withDeliveryGuard } from './gateway/engine/delivery-guard.js';
import { RealtimeIoAdapter } from './gateway/realtime-io.adapter.js';
import { clusterAdapter } from './redis/cluster-adapter.js';
import { RedisService } from './redis/redis.service.js';
import { PRESENCE_STORE, type PresenceStore } from './presence/presence.store.js';
import { installBodyParser } from './http/body-parser.js';
import { installHttpMetrics } from './observability/http-metrics.js';
import { QuietStartupLogger } from './observability/logger.js';
import type { AppOptions } from './infrastructure.module.js';
import { RealtimePublisher } from './gateway/publisher/realtime.publisher.js';
import type { AppServer } from './gateway/socket.types.js';
import { SessionService } from './gateway/sessions/session.service.js';
import { logRefusedHandshake } from './gateway/sessions/handshake-refusal-log.js';
import { clientAddressOf } from './gateway/sessions/client-address.js';

const socketServers = new WeakMap<INestApplication, AppServer>();

/**
 * The Socket.IO server of an app built by `createApp`, for tests and tools that inspect sockets.
 * Application code never needs it: services go through the RealtimePublisher.
 */
export function socketServerOf(app: INestApplication): AppServer {
  const server = socketServers.get(app);
  if (!server) throw new Error('Socket.IO server not created yet');
  return server;
}

/** Builds the Nest application (HTTP + Socket.IO on one server) without listening yet. */
export async function createApp(options: AppOptions): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(options), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(new QuietStartupLogger(app.get(Logger)));
  // No `X-Powered-By: Express` on any response.
  (app.getHttpAdapter().getInstance() as { disable(name: string): void }).disable('x-powered-by');
  app.enableCors({ origin: options.config.corsOrigins, credentials: true });
  installHttpMetrics(app);
  installBodyParser(app);
  // Development only: Swagger UI and the OpenAPI document under /api-docs (docs/http-api.md).
  // Loaded only there: production never imports @nestjs/swagger.
  if (!options.config.isProduction) (await import('./openapi.js')).installOpenApi(app);
  // Development only: the demo page and the socket.io-client browser bundle (never in production).
  if (options.config.demoEnabled && !options.config.isProduction) installDemoStatic(app);
  const publisher = app.get(RealtimePublisher);
  const sessionLog = await app.resolve(PinoLogger);
  const originAddress = clientAddressOf(options.config.trustProxy);
  sessionLog.setContext('session');
  const redis = app.get(RedisService);
  // With Redis every emit reaches every node; without it, Socket.IO's in-memory adapter (one node).
  // §12.8: when this node's adapter link comes back after an outage, its sockets may have missed
  // live events from other nodes: each is told to catch up (`sync:required`).
  const cluster = redis.connections
    ? clusterAdapter(
        redis.connections,
        (err) => redis.failure('adapter-publish', err),
        () =>
          redis.adapterRecovered(
            publisher.toLocalSockets('sync:required', { reason: 'adapter-recovered' }),
          ),
      )
    : undefined;
  app.useWebSocketAdapter(
    new RealtimeIoAdapter(
      app,
      options.config,
      (server) => {
        cluster?.install(server, withDeliveryGuard);
        publisher.attach(server, { clustered: cluster !== undefined });
        socketServers.set(app, server);
      },
      (req) => logRefusedHandshake(sessionLog, 'origin', originAddress(req)),
    ),
  );
  return app;
}

/**
 * How long a draining node keeps serving events while it waits for a quiet moment (nothing in
 * flight) to disconnect its sockets; after that, new events are refused (SERVICE_UNAVAILABLE,
 * retryable) so the events in flight can finish.
 */
export const DRAIN_QUIET_WAIT_MS = 500;

/**
 * Graceful stop (SIGTERM, §12.8): /ready answers 503 `draining` and new handshakes are refused;
 * every event already received is answered (ack or error object); then every socket gets a server
 * disconnect (the client reconnects elsewhere); then Nest closes (flushes audit, closes Redis and
 * the database). Nothing acknowledged is lost: an ack is only sent after the message is stored.
 */
export async function stopApp(app: INestApplication, graceMs = 5000): Promise<void> {
  const sessions = app.get(SessionService);
  const inFlight = app.get(InFlightTracker);
  // 1. Out of the load balancer, and new handshakes are refused (SERVICE_UNAVAILABLE).
  app.get(HealthService).startDraining();
  sessions.startDraining();
  // 2. Every received event is answered. Wait briefly for a moment with nothing in flight; under
  //    steady load there may be none, so then refuse new events at once (answered, retryable) and
  //    wait for the ones in flight (bounded by the grace period).
  if (!(await inFlight.idle(Math.min(DRAIN_QUIET_WAIT_MS, graceMs)))) {
    inFlight.refuseNew();
    await inFlight.idle(graceMs);
  }
  // 3. In this same tick (nothing in flight, or new events refused): presence of this node's users
  //    is handed to the heartbeat expiry (no offline flap for users who reconnect elsewhere), and
  //    every socket gets a server disconnect.
  inFlight.refuseNew();
  app.get<PresenceStore>(PRESENCE_STORE, { strict: false }).handOff?.();
  await sessions.disconnectAll(graceMs);
  // 4. Nest closes the Socket.IO server and HTTP listener, flushes audit, closes Redis and the
  //    database. Keep-alive HTTP connections (a load balancer polling /ready) would hold the
  //    listener open: idle ones are closed at once, busy ones after their answer.
  const httpServer = app.getHttpServer() as import('node:http').Server;
  const closing = app.close();
  httpServer.closeIdleConnections?.();
  const cut = setTimeout(() => httpServer.closeAllConnections?.(), 1000);
  cut.unref();
  try {
    await closing;
  } finally {
    clearTimeout(cut);
  }
}
