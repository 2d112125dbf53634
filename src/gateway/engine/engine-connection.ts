/**
 * What the engine tweaks read of an engine.io connection (engine.io's `Socket`): its queued
 * packets, its transport and the transport's websocket. Public fields of engine.io 6.6's Socket
 * and Transport classes (`writeBuffer`, `transport.writable`) and of ws (`bufferedAmount`); the
 * websocket's TCP socket (`_socket`) is ws's. versions.ts checks engine.io's at start and
 * ws-corking.ts ws's on the first websocket served (`checkWebSocket`).
 */
export interface EngineConnection {
  server: object;
  readyState: string;
  writeBuffer: Array<{ data?: unknown }>;
  transport?: EngineTransport;
  close(discard?: boolean): void;
  flush(): void;
  on(
    event: 'packetCreate',
    listener: (this: EngineConnection, packet: { data?: unknown }) => void,
  ): unknown;
}

export interface EngineTransport {
  writable?: boolean;
  socket?: {
    bufferedAmount?: number;
    terminate?: () => void;
    _socket?: { cork(): void; uncork(): void };
  };
}

/** The engine.io server events the tweaks listen to (public API of engine.io's Server). */
export interface EngineEvents {
  on(event: 'connection', listener: (conn: EngineConnection) => void): unknown;
  on(event: 'flush', listener: (conn: EngineConnection, packets: unknown[]) => void): unknown;
}
