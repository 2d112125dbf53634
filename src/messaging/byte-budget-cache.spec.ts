import { describe, expect, it } from 'vitest';
import { ByteBudgetCache, stringBytes } from './byte-budget-cache.js';

describe('ByteBudgetCache', () => {
  it('keeps its byte estimate under the budget, evicting the oldest entries', () => {
    const cache = new ByteBudgetCache<string, string[]>(100_000, (ids) =>
      ids.reduce((n, id) => n + stringBytes(id) + 40, 200),
    );
    const big = Array.from({ length: 500 }, (_, i) => `participant-${i}`);
    for (let i = 0; i < 1000; i++) {
      cache.set(`c${i}`, big);
      expect(cache.bytes).toBeLessThanOrEqual(100_000);
    }
    expect(cache.get('c0')).toBeUndefined();
    expect(cache.get('c999')).toBe(big);
    expect(cache.size).toBeGreaterThan(0);
    expect(cache.size).toBeLessThan(10);
    // Replacing an entry does not count it twice; deleting gives its bytes back.
    const before = cache.bytes;
    cache.set('c999', big);
    expect(cache.bytes).toBe(before);
    cache.delete('c999');
    expect(cache.bytes).toBeLessThan(before);
  });

  it('does not keep an entry larger than the whole budget', () => {
    const cache = new ByteBudgetCache<string, number>(10, (n) => n);
    cache.set('a', 5);
    cache.set('b', 11);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(5);
  });
});
