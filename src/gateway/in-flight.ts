import { Injectable } from '@nestjs/common';

/**
 * Client events received and not answered yet, so a graceful stop (SIGTERM, §12.8) can answer
 * every one of them before it disconnects the sockets. An event counts from the moment Socket.IO
 * hands it to the shared handler table (synchronously, on receipt) until its ack was written.
 */
@Injectable()
export class InFlightTracker {
  private n = 0;
  private waiters: Array<() => void> = [];
  private refusing = false;

  get count(): number {
    return this.n;
  }

  /** True once a draining node answers new events with SERVICE_UNAVAILABLE at once. */
  get refusingNew(): boolean {
    return this.refusing;
  }

  /** Draining: events received from now on are refused on receipt (never left unanswered). */
  refuseNew(): void {
    this.refusing = true;
  }

  begin(): void {
    this.n++;
  }

  end(): void {
    this.n = Math.max(0, this.n - 1);
    if (this.n === 0) {
      const w = this.waiters;
      this.waiters = [];
      // The ack is written right after the handler's observable completes: let that happen first.
      setImmediate(() => w.forEach((f) => f()));
    }
  }

  /**
   * Resolves true when nothing is in flight, or false after `timeoutMs`. When it resolves true the
   * count is 0 in that very tick: a caller that acts synchronously on it (disconnects) leaves no
   * received event unanswered.
   */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.n === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        if (this.n > 0) {
          // Another event arrived before the waiters ran: keep waiting for the next quiet moment.
          this.waiters.push(done);
          return;
        }
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
