import { Logger } from '@nestjs/common';
import type { EngineConnection, EngineEvents, EngineTransport } from './engine-connection.js';

let wsChecked = false;

/**
 * ws's WebSocket as these tweaks read it — `bufferedAmount` (public; the slow-consumer drop) and
 * its TCP socket `_socket` (ws's own field; corking) — checked on the first websocket this
 * process serves. Missing, the tweaks would turn themselves off without a sign: say so, loudly.
 */
export function checkWebSocket(
  ws: NonNullable<EngineTransport['socket']>,
  report: (problem: string) => void = (problem) =>
    new Logger('Engine').error(
      `${problem}; the engine tweaks (src/gateway/engine/) were written for ws 8.23 — run test/ws-corking and test/slow-consumer`,
    ),
): string[] {
  wsChecked = true;
  const problems: string[] = [];
  if (typeof ws.bufferedAmount !== 'number')
    problems.push(
      'ws: WebSocket#bufferedAmount missing (slow-consumer drop reads only queued packets)',
    );
  if (typeof ws._socket?.cork !== 'function' || typeof ws._socket.uncork !== 'function')
    problems.push('ws: WebSocket#_socket.cork/uncork missing (websocket corking is off)');
  problems.forEach((problem) => report(problem));
  return problems;
}

function uncork(tcp: { uncork(): void }): void {
  tcp.uncork();
}

function corkFlush(conn: EngineConnection, packets: unknown[]): void {
  const ws = conn.transport?.socket;
  if (!ws) return; // polling: no TCP socket of its own here
  if (!wsChecked) checkWebSocket(ws);
  const tcp = packets.length > 1 ? ws._socket : undefined;
  if (typeof tcp?.cork !== 'function') return;
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
