import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { RealtimeIoAdapter } from './gateway/realtime-io.adapter.js';
import { installBodyParser } from './http/body-parser.js';
import type { AppOptions } from './infrastructure.module.js';
import { RealtimePublisher } from './sessions/realtime.publisher.js';
import { SessionService } from './sessions/session.service.js';

/** Builds the Nest application (HTTP + Socket.IO on one server) without listening yet. */
export async function createApp(options: AppOptions): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(options), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.enableCors({ origin: options.config.corsOrigins, credentials: true });
  installBodyParser(app);
  const publisher = app.get(RealtimePublisher);
  app.useWebSocketAdapter(
    new RealtimeIoAdapter(app, options.config, (server) => publisher.attach(server)),
  );
  return app;
}

/**
 * Graceful stop: refuse new handshakes, tell connected clients to go elsewhere (they reconnect to
 * another node), then close Nest (flushes audit, closes Redis and the database).
 */
export async function stopApp(app: INestApplication): Promise<void> {
  const sessions = app.get(SessionService);
  sessions.startDraining();
  const publisher = app.get(RealtimePublisher);
  try {
    publisher.io.local.disconnectSockets(true);
    publisher.io.of('/communication').local.disconnectSockets(true);
  } catch {
    // server never attached
  }
  await app.close();
}
