import { describe, expect, it } from 'vitest';
import { MemoryConnectionCounter } from './connection-counter.js';

describe('MemoryConnectionCounter', () => {
  it('caps live sockets per user and namespace; the same socket id counts once', async () => {
    const c = new MemoryConnectionCounter();
    expect(await c.tryAcquire('/', 'u', 's1', 2)).toBe(true);
    expect(await c.tryAcquire('/', 'u', 's1', 2)).toBe(true);
    expect(await c.count('/', 'u')).toBe(1);
    expect(await c.tryAcquire('/', 'u', 's2', 2)).toBe(true);
    expect(await c.tryAcquire('/', 'u', 's2', 2)).toBe(true);
    expect(await c.tryAcquire('/', 'u', 's3', 2)).toBe(false);
    expect(await c.count('/', 'u')).toBe(2);
    // Other namespaces and users have slots of their own.
    expect(await c.tryAcquire('/communication', 'u', 's4', 1)).toBe(true);
    expect(await c.tryAcquire('/communication', 'u', 's5', 1)).toBe(false);
    expect(await c.tryAcquire('/', 'v', 's6', 1)).toBe(true);
  });

  it('release frees exactly that socket; unknown ids change nothing', async () => {
    const c = new MemoryConnectionCounter();
    await c.tryAcquire('/', 'u', 's1', 3);
    await c.tryAcquire('/', 'u', 's2', 3);
    await c.tryAcquire('/', 'u', 's3', 3);
    await c.release('/', 'u', 'nope');
    await c.release('/', 'nobody', 's1');
    expect(await c.count('/', 'u')).toBe(3);
    await c.release('/', 'u', 's2');
    await c.release('/', 'u', 's3');
    expect(await c.count('/', 'u')).toBe(1);
    await c.release('/', 'u', 's3');
    expect(await c.count('/', 'u')).toBe(1);
    expect(await c.tryAcquire('/', 'u', 's1', 1)).toBe(true);
    expect(await c.tryAcquire('/', 'u', 's9', 1)).toBe(false);
    await c.release('/', 'u', 's1');
    expect(await c.count('/', 'u')).toBe(0);
    expect(await c.tryAcquire('/', 'u', 's9', 1)).toBe(true);
  });

  it('a cap of zero refuses every socket', async () => {
    const c = new MemoryConnectionCounter();
    expect(await c.tryAcquire('/', 'u', 's1', 0)).toBe(false);
    expect(await c.count('/', 'u')).toBe(0);
  });
});
