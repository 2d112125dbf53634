import type { EngineConnection } from './engine-connection.js';

/** What a server does about a connection whose outgoing buffer passed the limit. */
export interface SlowConsumerGuard {
  maxBufferedBytes: number;
  onDrop(bufferedBytes: number): void;
}

const GUARD = Symbol.for('white-cross.slow-consumer-guard');
/** The buffer is measured every this many queued packets (and for every large one). */
const CHECK_EVERY = 16;

const sizeOf = (d: unknown): number =>
  typeof d === 'string' ? d.length : d instanceof Buffer ? d.byteLength : 0;

/** Bytes queued for a connection: engine.io's write buffer plus the websocket's send buffer. */
export function connectionBufferedBytes(conn: EngineConnection): number {
  let total = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) total += sizeOf(packet.data);
  return total;
}

/** The limit of the engine server a connection belongs to (tests run several in one process). */
export function setSlowConsumerGuard(engine: object, guard: SlowConsumerGuard): void {
  (engine as Record<symbol, SlowConsumerGuard>)[GUARD] = guard;
}

/**
 * Drops a slow consumer when it happens, at write time (§8, WS_MAX_BUFFERED_BYTES), instead of a
 * periodic sweep that a busy event loop runs late. Packets pile up in engine.io's write buffer
 * while the transport is not writable; for a websocket that is slow only while the kernel also
 * refuses bytes (the socket's own send buffer is not empty: the client stopped reading). Each
 * time the buffer reaches a multiple of CHECK_EVERY packets, or a large packet is queued, its
 * bytes are summed (amortised O(1) per packet), and past the limit the connection is closed at
 * once and its buffers freed: `close(true)` discards what was queued (a plain close would wait
 * for a drain that never comes), and the websocket is terminated, not closed politely. The
 * client sees a transport close, reconnects and replays what it missed.
 *
 * Called for each packet from the connection's `packetCreate` event (engine-hooks.ts), which
 * engine.io emits just before it queues the packet: the packet counts as queued.
 */
export function checkSlowConsumer(conn: EngineConnection, packet: { data?: unknown }): void {
  const queued = conn.writeBuffer.length + 1;
  if (queued === 1) return;
  const g = (conn.server as Record<symbol, SlowConsumerGuard | undefined>)[GUARD];
  if (!g) return;
  const size = sizeOf(packet.data);
  const large = size * CHECK_EVERY >= g.maxBufferedBytes;
  if (queued % CHECK_EVERY !== 0 && !large) return;
  // A burst to a healthy reader waits in the write buffer only until the next loop turn, and the
  // kernel takes all of it; the consumer is slow only once the kernel refused bytes too.
  const ws = conn.transport?.socket;
  if (ws && !((ws.bufferedAmount ?? 0) > 0)) return;
  const bytes = connectionBufferedBytes(conn) + size;
  if (bytes <= g.maxBufferedBytes || conn.readyState !== 'open') return;
  g.onDrop(bytes);
  conn.close(true);
  ws?.terminate?.();
}
