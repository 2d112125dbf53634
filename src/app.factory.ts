import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { InFlightTracker } from './gateway/in-flight.js';
import { installDemoStatic } from './demo/demo-static.js';
import { RealtimeIoAdapter } from './gateway/realtime-io.adapter.js';
import { clusterAdapter } from './redis/cluster-adapter.js';
import { RedisService } from './redis/redis.service.js';
import { PRESENCE_STORE, type PresenceStore } from './presence/presence.store.js';
import { installBodyParser } from './http/body-parser.js';
import { installHttpMetrics } from './observability/http-metrics.js';
import { QuietStartupLogger } from './observability/logger.js';
import type { AppOptions } from './infrastructure.module.js';
import { RealtimePublisher } from './sessions/realtime.publisher.js';
import { SessionService } from './sessions/session.service.js';
import { logRefusedHandshake } from './sessions/handshake-refusal-log.js';

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
  if (!options.config.isProduction) (await import('./http/openapi.js')).installOpenApi(app);
  // Development only: the demo page and the socket.io-client browser bundle (never in production).
  if (options.config.demoEnabled && !options.config.isProduction) installDemoStatic(app);
  const publisher = app.get(RealtimePublisher);
  const sessionLog = await app.resolve(PinoLogger);
  sessionLog.setContext('session');
  const redis = app.get(RedisService);
  // With Redis every emit reaches every node; without it, Socket.IO's in-memory adapter (one node).
  const cluster = redis.connections
    ? clusterAdapter(redis.connections, (err) => redis.failure('adapter-publish', err))
    : undefined;
  app.useWebSocketAdapter(
    new RealtimeIoAdapter(
      app,
      options.config,
      (server) => {
        cluster?.install(server);
        publisher.attach(server, { clustered: cluster !== undefined });
      },
      (req) => logRefusedHandshake(sessionLog, 'origin', req.socket.remoteAddress),
    ),
  );
  return app;
}

/**
 * Graceful stop: refuse new handshakes, tell connected clients to go elsewhere (they reconnect to
 * another node), then close Nest (flushes audit, closes Redis and the database).
 */
export async function stopApp(app: INestApplication, graceMs = 5000): Promise<void> {
  const sessions = app.get(SessionService);
  // 1. New handshakes are refused (SERVICE_UNAVAILABLE): reconnecting clients land on other nodes.
  sessions.startDraining();
  // 2. Events being handled finish and their acks go out (an acknowledged message is durable).
  await app.get(InFlightTracker).idle(graceMs);
  // 3. Presence of this node's users is handed to the heartbeat expiry (no offline flap for users
  //    who reconnect elsewhere), then every local socket is disconnected and the hooks run.
  app.get<PresenceStore>(PRESENCE_STORE, { strict: false }).handOff?.();
  await sessions.disconnectAll(graceMs);
  // 4. Nest closes the Socket.IO server and HTTP listener, flushes audit, closes Redis and the database.
  await app.close();
}
