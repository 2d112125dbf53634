import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { Server, type ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/config.js';
import { isOriginAllowed } from './origin.js';
import type { AppServer } from './socket.types.js';

export type AdapterInstaller = (server: AppServer) => Promise<void> | void;

/**
 * Creates the one Socket.IO server of the app from config (ignoring gateway decorator options):
 * path, transports, heartbeat, payload limit, CORS and the HTTP-level Origin check. An optional
 * installer plugs in the cluster adapter (Redis) before any namespace is used.
 */
export class RealtimeIoAdapter extends IoAdapter {
  private server?: AppServer;

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly onServer: (server: AppServer) => void,
  ) {
    super(app);
  }

  serverOptions(): Partial<ServerOptions> {
    const { ws, corsOrigins } = this.config;
    return {
      path: '/socket.io',
      transports: ['polling', 'websocket'],
      pingInterval: ws.pingIntervalMs,
      pingTimeout: ws.pingTimeoutMs,
      maxHttpBufferSize: ws.maxPayloadBytes,
      connectTimeout: 10_000,
      serveClient: false,
      cors: { origin: corsOrigins, credentials: true },
      allowRequest: (req, callback) => {
        callback(
          isOriginAllowed(req, corsOrigins) ? null : 'Origin not allowed',
          isOriginAllowed(req, corsOrigins),
        );
      },
      // Never recover sessions without running the handshake middleware again (§3).
      connectionStateRecovery: undefined,
      perMessageDeflate: false,
    };
  }

  override createIOServer(port: number, _options?: ServerOptions): AppServer {
    if (this.server) return this.server;
    const options = this.serverOptions();
    const server: AppServer =
      this.httpServer && port === 0
        ? new Server(this.httpServer as import('node:http').Server, options)
        : new Server(port, options);
    this.server = server;
    this.onServer(server);
    return server;
  }
}
