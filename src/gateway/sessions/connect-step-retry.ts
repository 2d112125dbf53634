import type { SessionContext } from '../publisher/session-hooks.js';

/** A connect step the database could not serve is tried again for at most this long. */
export const CONNECT_RETRY_FOR_MS = 5 * 60_000;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 15_000;

/**
 * Background retries of a connect step that failed because the database did not answer (§4
 * step 4: the replay, the notification sync): tried 1 s after the failure, then doubling up to
 * 15 s apart, while the session is connected, for at most CONNECT_RETRY_FOR_MS. Timers are
 * unref'd and cleared at shutdown. `attempt` throws to be tried again.
 */
export class ConnectStepRetry {
  private readonly timers = new Set<NodeJS.Timeout>();

  /**
   * Runs `attempt` later until it succeeds; `onGiveUp` when the time is up. Resolves nothing:
   * the caller's connect step goes on at once.
   */
  schedule(
    ctx: SessionContext,
    attempt: (afterMs: number) => Promise<void>,
    onGiveUp: (afterMs: number) => void,
  ): void {
    const started = Date.now();
    const run = async (delay: number): Promise<void> => {
      if (!ctx.connected) return;
      try {
        await attempt(Date.now() - started);
      } catch {
        const next = Math.min(delay * 2, MAX_DELAY_MS);
        if (Date.now() - started + next > CONNECT_RETRY_FOR_MS)
          return onGiveUp(Date.now() - started);
        this.later(() => run(next), next);
      }
    };
    this.later(() => run(FIRST_DELAY_MS), FIRST_DELAY_MS);
  }

  private later(run: () => Promise<void>, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Stops every pending retry (application shutdown). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
