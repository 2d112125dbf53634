import { afterEach, describe, expect, it, vi } from 'vitest';
import { ThrottledLog } from './throttled-log.js';

describe('ThrottledLog: at most one line per kind per window, with the suppressed count', () => {
  afterEach(() => vi.useRealTimers());

  it('writes the first report, counts the rest, and says how many at the end of the window', () => {
    vi.useFakeTimers();
    const lines: Array<Record<string, unknown>> = [];
    const sink = (f: Record<string, unknown>) => lines.push(f);
    const sut = new ThrottledLog(5000);
    for (let i = 0; i < 1000; i++) {
      sut.report('database:storage', sink, { operation: 'storage' }, 'database storage failed');
      vi.advanceTimersByTime(4); // 1,000 failures over 4 s
    }
    expect(lines).toEqual([{ operation: 'storage', kind: 'database:storage' }]);
    expect(sut.pending('database:storage')).toBe(999);
    vi.advanceTimersByTime(1000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ kind: 'database:storage', suppressed: 999 });
    // Another kind has its own window.
    sut.report('redis:rate-limit', sink, {}, 'redis rate-limit failed');
    expect(lines).toHaveLength(3);
    // A continuing outage: one line per window, never more.
    for (let i = 0; i < 3000; i++) {
      sut.report('database:storage', sink, {}, 'database storage failed');
      vi.advanceTimersByTime(5);
    }
    const storageLines = lines.filter((l) => l.kind === 'database:storage');
    expect(storageLines.length).toBeLessThanOrEqual(2 + Math.ceil(15_000 / 5000));
    sut.close();
  });

  it('a failure after a quiet window is written at once again', () => {
    vi.useFakeTimers();
    const lines: unknown[] = [];
    const sut = new ThrottledLog(5000);
    sut.report('k', (f) => lines.push(f), {}, 'm');
    vi.advanceTimersByTime(6000);
    sut.report('k', (f) => lines.push(f), {}, 'm');
    expect(lines).toHaveLength(2);
    sut.close();
  });
});
