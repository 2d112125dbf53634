import type { EngineConnection } from './engine-connection.js';

/** Connections whose flush the running deferred run postponed (their transport was writable). */
let deferred: Set<EngineConnection> | undefined;

/**
 * Called for every packet queued on a connection (engine-hooks.ts, engine.io's `packetCreate`,
 * emitted just before the packet is queued and flushed): inside a deferred run, a writable
 * transport is marked not writable until the run ends, so engine.io queues instead of writing.
 */
export function deferIfRunning(conn: EngineConnection): void {
  if (!deferred) return;
  const transport = conn.transport;
  if (transport?.writable !== true) return;
  transport.writable = false;
  deferred.add(conn);
}

/**
 * Runs a synchronous series of emits (a window of fan-out broadcasts) so that each engine.io
 * connection flushes once, at the end, with every packet the run gave it. Engine.io writes the
 * first packet of a burst at once and the rest after that write completed: two `writev`s per
 * socket per burst, for every socket of an organization in each presence window of a connect
 * storm. Deferred, the burst goes out as one corked write (ws-corking.ts). Same packets, same
 * order per socket; nothing waits beyond the end of the run (no I/O can run inside it, so no
 * transport's own drain is mistaken). Nested runs join the outer one.
 */
export function withDeferredFlush(run: () => void): void {
  if (deferred) return run();
  const connections = new Set<EngineConnection>();
  deferred = connections;
  try {
    run();
  } finally {
    deferred = undefined;
    for (const conn of connections) {
      if (conn.readyState !== 'open' || !conn.transport) continue;
      conn.transport.writable = true;
      conn.flush();
    }
  }
}
