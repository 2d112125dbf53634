import { transports } from 'engine.io';

interface CorkableTransport {
  socket?: { _socket?: { cork(): void; uncork(): void } };
  send(packets: unknown[]): void;
}

const PATCHED = Symbol.for('white-cross.ws-corking');

/**
 * Engine.io writes each packet of a flush as its own WebSocket frame, and ws writes each frame
 * with its own `writev` system call. A socket that receives a burst (ten `message:new` and an ack)
 * paid ten syscalls. Corking the TCP socket around one flush sends every frame of it in one
 * `writev`: same frames, same order, one syscall. Installed once, on engine.io's WebSocket
 * transport.
 */
export function installWebSocketCorking(): void {
  const proto = (transports.websocket as unknown as { prototype: CorkableTransport }).prototype;
  const flagged = proto as unknown as Record<symbol, boolean>;
  if (flagged[PATCHED]) return;
  const send = proto.send;
  proto.send = function (this: CorkableTransport, packets: unknown[]): void {
    const tcp = packets.length > 1 ? this.socket?._socket : undefined;
    if (!tcp) return send.call(this, packets);
    tcp.cork();
    try {
      send.call(this, packets);
    } finally {
      tcp.uncork();
    }
  };
  flagged[PATCHED] = true;
}
