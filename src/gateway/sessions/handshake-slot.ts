import type { AppSocket } from '../socket.types.js';
import type { ConnectionCounter } from '../../connection-cap/connection-counter.js';

/**
 * Connection slots count live sockets only (§12.3). A slot is taken in the handshake middleware,
 * but Socket.IO drops a socket whose client closed before the middleware finished without any
 * `disconnect` (it checks `conn.readyState` after `next()` and just cleans up), so the slot would
 * never be given back: 30 aborted handshakes locked a user out. Until the socket is confirmed
 * (`settle`), the slot is released when its Engine.IO connection closes.
 */
export class HandshakeSlots {
  private readonly pending = new WeakMap<AppSocket, () => void>();

  constructor(private readonly counter: ConnectionCounter) {}

  /** Takes a slot; false when the user is at the cap. Throws `gone` when the client already left. */
  async acquire(socket: AppSocket, ns: string, userId: string, max: number): Promise<boolean> {
    if (!(await this.counter.tryAcquire(ns, userId, socket.id, max))) return false;
    const conn = socket.conn;
    const release = () => {
      this.pending.delete(socket);
      void this.counter.release(ns, userId, socket.id).catch(() => undefined);
    };
    if (conn.readyState !== 'open') {
      release();
      throw new HandshakeAborted();
    }
    conn.once('close', release);
    this.pending.set(socket, () => conn.off('close', release));
    return true;
  }

  /** The socket reached the namespace: from now on its disconnect releases the slot. */
  settle(socket: AppSocket): void {
    const detach = this.pending.get(socket);
    if (!detach) return;
    this.pending.delete(socket);
    detach();
  }
}

/** The client closed its connection during the handshake: nobody is left to answer. */
export class HandshakeAborted extends Error {
  constructor() {
    super('client left during the handshake');
    this.name = 'HandshakeAborted';
  }
}
