import { withDeferredFlush } from '../gateway/engine/deferred-flush.js';

/**
 * Coalesces fan-out emits that storms repeat (presence:changed to a whole organization on every
 * first connection) into one synchronous run every `windowMs` (or at `maxItems`). A broadcast
 * writes one frame to every socket of the room; emitted one by one as handshakes complete, each
 * costs every socket its own `writev`. Emitted together, with each socket's flush deferred to the
 * end of the run (deferred-flush.ts), every socket's frames go out in one corked write: for n
 * announcements in a window, one system call per socket instead of n. Order is kept (FIFO);
 * `add` resolves when the emit ran, so a caller that must keep §4's order (presence before the
 * replay) awaits it.
 */
export class EmitBatcher {
  private queue: Array<() => void> = [];
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly windowMs: number,
    private readonly maxItems: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  add(emit: () => void): Promise<void> {
    this.queue.push(emit);
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.queue.length >= this.maxItems) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    return done;
  }

  /** Runs every queued emit now, in order. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const queue = this.queue;
    const waiters = this.waiters;
    this.queue = [];
    this.waiters = [];
    // Each socket flushes once per run: one write for all of its frames (deferred-flush.ts).
    withDeferredFlush(() => {
      for (const emit of queue) {
        try {
          emit();
        } catch (err) {
          this.onError(err);
        }
      }
    });
    for (const resolve of waiters) resolve();
  }
}
