import { describe, expect, it } from 'vitest';
import { EmitBatcher } from './emit-batcher.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a run that costs `ms` of the event loop, like a fan-out to thousands of sockets
  }
}

/** The run's cost is taken after the ticks it queued (the sockets' uncorked writes). */
const afterTicks = () => new Promise((resolve) => setImmediate(resolve));

describe('EmitBatcher window', () => {
  it('stretches after an expensive run (at most maxWindowMs) and returns to the base when runs are cheap', async () => {
    const batcher = new EmitBatcher(10, 1000, undefined, 250);
    expect(batcher.currentWindowMs).toBe(10);
    const ran: number[] = [];
    const first = batcher.add(() => {
      ran.push(1);
      busy(30);
    });
    batcher.flush();
    await first;
    await afterTicks();
    expect(ran).toEqual([1]);
    // 30 ms run → a window of about 3 × 30 ms
    expect(batcher.currentWindowMs).toBeGreaterThanOrEqual(90);
    expect(batcher.currentWindowMs).toBeLessThanOrEqual(250);

    const huge = batcher.add(() => busy(120));
    batcher.flush();
    await huge;
    await afterTicks();
    expect(batcher.currentWindowMs).toBe(250);

    // The next add waits for the stretched window before it runs, then a cheap run resets it.
    const queuedAt = performance.now();
    await batcher.add(() => ran.push(2));
    expect(performance.now() - queuedAt).toBeGreaterThanOrEqual(240);
    await afterTicks();
    expect(ran).toEqual([1, 2]);
    expect(batcher.currentWindowMs).toBe(10);
  });

  it('counts the writes a run leaves for the ticks after it (uncorked sockets) in its cost', async () => {
    const batcher = new EmitBatcher(10, 1000, undefined, 250);
    // The emit itself is cheap; its writes (here 30 ms) leave on a tick it queued, as an
    // uncorked TCP socket's do.
    const done = batcher.add(() => process.nextTick(() => busy(30)));
    batcher.flush();
    await done;
    await afterTicks();
    expect(batcher.currentWindowMs).toBeGreaterThanOrEqual(90);
  });
});
