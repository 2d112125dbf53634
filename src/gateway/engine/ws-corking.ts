import type { EngineConnection, EngineEvents } from './engine-connection.js';

function uncork(tcp: { uncork(): void }): void {
  tcp.uncork();
}

function corkFlush(conn: EngineConnection, packets: unknown[]): void {
  const tcp = packets.length > 1 ? conn.transport?.socket?._socket : undefined;
  if (!tcp) return;
  tcp.cork();
  // The transport writes the flushed packets synchronously right after this event; uncorking on
  // the next tick sends all of them in one `writev`.
  process.nextTick(uncork, tcp);
}

/**
 * Engine.io writes each packet of a flush as its own WebSocket frame, and ws writes each frame
 * with its own `writev` system call. A socket that receives a burst (ten `message:new` and an ack)
 * paid ten syscalls. Corking the TCP socket around one flush sends every frame of it in one
 * `writev`: same frames, same order, one syscall. One listener on the engine server's public
 * `flush` event (emitted just before the transport writes), nothing per connection and no
 * engine.io method replaced. Polling transports have no TCP socket of their own here: untouched.
 */
export function corkEachFlush(engine: EngineEvents): void {
  engine.on('flush', corkFlush);
}
