import { Socket as EngineSocket } from 'engine.io';

/** What a server does about a connection whose outgoing buffer passed the limit. */
export interface SlowConsumerGuard {
  maxBufferedBytes: number;
  onDrop(bufferedBytes: number): void;
}

interface EngineConnection {
  server: object;
  readyState: string;
  writeBuffer: Array<{ data?: unknown }>;
  transport?: { writable?: boolean; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

const GUARD = Symbol.for('white-cross.slow-consumer-guard');
const PATCHED = Symbol.for('white-cross.slow-consumer-patched');
/** The buffer is measured every this many queued packets (and for every large one). */
const CHECK_EVERY = 16;

/** Bytes queued for a connection: engine.io's write buffer plus the websocket's send buffer. */
export function connectionBufferedBytes(conn: EngineConnection): number {
  let total = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) {
    const d = packet.data;
    total += typeof d === 'string' ? d.length : d instanceof Buffer ? d.byteLength : 0;
  }
  return total;
}

/**
 * Drops a slow consumer when it happens, at write time (§8, WS_MAX_BUFFERED_BYTES), instead of a
 * periodic sweep that a busy event loop runs late. Packets pile up in engine.io's write buffer
 * while the transport is not writable; for a websocket that is slow only while the kernel also
 * refuses bytes (the socket's own send buffer is not empty: the client stopped reading). Each time the buffer reaches a multiple of CHECK_EVERY packets, or a large packet is
 * queued, its bytes are summed (amortised O(1) per packet), and past the limit the connection is
 * closed at once and its buffers freed: `close(true)` discards what was queued (a plain close
 * would wait for a drain that never comes), and the websocket is terminated, not closed
 * politely. The client sees a transport close, reconnects and replays what it missed.
 *
 * Installed once on engine.io's Socket prototype; the limit is per engine server (tests run
 * several servers in one process), so a connection carries nothing of its own.
 */
export function installSlowConsumerGuard(engine: object, guard: SlowConsumerGuard): void {
  (engine as Record<symbol, SlowConsumerGuard>)[GUARD] = guard;
  const proto = EngineSocket.prototype as unknown as Record<PropertyKey, unknown> & {
    sendPacket: (this: EngineConnection, ...args: unknown[]) => void;
  };
  if (proto[PATCHED]) return;
  const sendPacket = proto.sendPacket;
  if (typeof sendPacket !== 'function')
    throw new Error('engine.io changed: Socket.prototype.sendPacket missing');
  proto.sendPacket = function (this: EngineConnection, ...args: unknown[]): void {
    sendPacket.apply(this, args);
    const queued = this.writeBuffer.length;
    if (queued === 0) return;
    const g = (this.server as Record<symbol, SlowConsumerGuard | undefined>)[GUARD];
    if (!g) return;
    const data = args[1];
    const large = typeof data === 'string' && data.length * CHECK_EVERY >= g.maxBufferedBytes;
    if (queued % CHECK_EVERY !== 0 && !large) return;
    // A burst to a healthy reader waits in the write buffer only until the next loop turn, and the
    // kernel takes all of it; the consumer is slow only once the kernel refused bytes too.
    const ws = this.transport?.socket;
    if (ws && !((ws.bufferedAmount ?? 0) > 0)) return;
    const bytes = connectionBufferedBytes(this);
    if (bytes <= g.maxBufferedBytes || this.readyState !== 'open') return;
    g.onDrop(bytes);
    this.close(true);
    ws?.terminate?.();
  };
  proto[PATCHED] = true;
}
