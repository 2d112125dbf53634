import { Socket as EngineSocket } from 'engine.io';

const PATCHED = Symbol.for('white-cross.deferred-flush');

interface Flushable {
  flush(): void;
}

/** Engine.io sockets asked to flush while a deferred run is in progress. */
let deferred: Set<Flushable> | undefined;

function install(): void {
  const proto = EngineSocket.prototype as unknown as Flushable & Record<symbol, boolean>;
  if (proto[PATCHED]) return;
  const flush = proto.flush;
  proto.flush = function (this: Flushable): void {
    if (deferred) {
      deferred.add(this);
      return;
    }
    flush.call(this);
  };
  proto[PATCHED] = true;
}

/**
 * Runs a synchronous series of emits (a window of fan-out broadcasts) so that each engine.io
 * socket flushes once, at the end, with every packet the run gave it. Engine.io writes the first
 * packet of a burst at once and the rest after that write completed: two `writev`s per socket
 * per burst, for every socket of an organization in each presence window of a connect storm.
 * Deferred, the burst goes out as one corked write (ws-corking.ts). Same packets, same order per
 * socket; nothing waits beyond the end of the run. Nested runs join the outer one.
 */
export function withDeferredFlush(run: () => void): void {
  if (deferred) return run();
  install();
  const sockets = new Set<Flushable>();
  deferred = sockets;
  try {
    run();
  } finally {
    deferred = undefined;
    for (const socket of sockets) socket.flush();
  }
}
