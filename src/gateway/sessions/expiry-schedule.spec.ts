import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExpirySchedule } from './expiry-schedule.js';

describe('ExpirySchedule', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  function schedule() {
    const due: Array<[string, number]> = [];
    const s = new ExpirySchedule<string>((item) => due.push([item, Date.now()]));
    return { s, due };
  }

  it('calls each item at its deadline, in deadline order, on one timer', () => {
    const { s, due } = schedule();
    s.add('b', 1_003_000);
    s.add('a', 1_001_000);
    s.add('c', 1_003_000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([['a', 1_001_000]]);
    vi.advanceTimersByTime(2_000);
    expect(due).toEqual([
      ['a', 1_001_000],
      ['b', 1_003_000],
      ['c', 1_003_000],
    ]);
    expect(s.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never calls a removed item; moving an item is delete + add', () => {
    const { s, due } = schedule();
    s.add('a', 1_001_000);
    s.add('b', 1_001_000);
    s.delete('a', 1_001_000);
    s.delete('b', 1_001_000);
    s.add('b', 1_005_000);
    vi.advanceTimersByTime(4_000);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(due).toEqual([['b', 1_005_000]]);
  });

  it('re-arms for an earlier deadline added later', () => {
    const { s, due } = schedule();
    s.add('late', 1_010_000);
    s.add('early', 1_002_000);
    vi.advanceTimersByTime(2_000);
    expect(due).toEqual([['early', 1_002_000]]);
    vi.advanceTimersByTime(8_000);
    expect(due.map(([i]) => i)).toEqual(['early', 'late']);
  });

  it('calls an item whose deadline has passed on the next tick', () => {
    const { s, due } = schedule();
    s.add('past', 900_000);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(due).toEqual([['past', 1_000_000]]);
  });

  it('waits past the 32-bit timer limit in steps', () => {
    const { s, due } = schedule();
    const far = 1_000_000 + 3_000_000_000;
    s.add('far', far);
    vi.advanceTimersByTime(2_999_999_999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([['far', far]]);
  });

  it('an item re-added from its own callback is called at the new deadline', () => {
    const due: number[] = [];
    let again = true;
    const s: ExpirySchedule<string> = new ExpirySchedule<string>(() => {
      due.push(Date.now());
      if (again) s.add('x', Date.now() + 1_000);
      again = false;
    });
    s.add('x', 1_001_000);
    vi.advanceTimersByTime(5_000);
    expect(due).toEqual([1_001_000, 1_002_000]);
  });

  it('clear() drops everything and its timer', () => {
    const { s, due } = schedule();
    s.add('a', 1_001_000);
    s.clear();
    vi.advanceTimersByTime(5_000);
    expect(due).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
