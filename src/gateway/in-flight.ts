import { Injectable } from '@nestjs/common';

/** Client events being handled right now, so a graceful stop can let their acks go out first. */
@Injectable()
export class InFlightTracker {
  private n = 0;
  private waiters: Array<() => void> = [];

  get count(): number {
    return this.n;
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

  /** Resolves true when nothing is in flight, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.n === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
