import { withDeferredFlush } from '../engine/deferred-flush.js';

/** A run that took d ms is followed by a window of at least DUTY_FACTOR × d. */
const DUTY_FACTOR = 3;

/**
 * Coalesces fan-out emits that storms repeat (presence:changed to a whole organization on every
 * first connection) into one synchronous run every `windowMs` (or at `maxItems`). A broadcast
 * writes one frame to every socket of the room; emitted one by one as handshakes complete, each
 * costs every socket its own `writev`. Emitted together, with each socket's flush deferred to the
 * end of the run (deferred-flush.ts), every socket's frames go out in one corked write: for n
 * announcements in a window, one system call per socket instead of n. Order is kept (FIFO);
 * `add` resolves when the emit ran, so a caller that must keep §4's order (presence before the
 * replay) awaits it.
 *
 * The window adapts to what a run costs: a run that took d ms is followed by a window of at least
 * `DUTY_FACTOR` × d (at most `maxWindowMs`), so fan-out runs use at most about a quarter of the
 * event loop however large the organization. Quiet (a run of a few sockets takes well under a
 * millisecond) the window is `windowMs`; in a storm of thousands of sockets, where every run
 * costs each socket of the organization its own write, runs get fewer and fuller instead of
 * crowding out the handshakes they announce.
 */
export class EmitBatcher {
  private queue: Array<() => void> = [];
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private lastRunMs = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxItems: number,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly maxWindowMs = 250,
  ) {}

  /** The wait before the next run: the base window, stretched after an expensive run. */
  get currentWindowMs(): number {
    return Math.min(this.maxWindowMs, Math.max(this.windowMs, DUTY_FACTOR * this.lastRunMs));
  }

  add(emit: () => void): Promise<void> {
    this.queue.push(emit);
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.queue.length >= this.maxItems) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.currentWindowMs);
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
    const started = performance.now();
    withDeferredFlush(() => {
      for (const emit of queue) {
        try {
          emit();
        } catch (err) {
          this.onError(err);
        }
      }
    });
    // The sockets' writes leave when their TCP sockets are uncorked, on ticks queued during the
    // run (ws-corking.ts): the run's cost ends after them. Measured without them (the system calls
    // were most of it), the window stayed near its minimum in a storm and every member of the
    // organization paid a write every 10–20 ms.
    process.nextTick(() => (this.lastRunMs = performance.now() - started));
    for (const resolve of waiters) resolve();
  }
}
