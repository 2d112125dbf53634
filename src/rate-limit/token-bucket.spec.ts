import { describe, expect, it } from 'vitest';
import { consumeToken, peekTokens, type BucketState } from './token-bucket.js';

const spec = { maxTokens: 3, refillIntervalMs: 1000 };

/** Drives the pure bucket with an injected clock. */
function bucket(start = 1_000_000) {
  let now = start;
  let state: BucketState | undefined;
  return {
    take() {
      const r = consumeToken(state, spec, now);
      state = r.state;
      return r;
    },
    peek: () => peekTokens(state, spec, now),
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('token bucket (pure, injected clock)', () => {
  it('starts full and allows maxTokens in a burst, then refuses', () => {
    const b = bucket();
    expect([b.take(), b.take(), b.take()].map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    const refused = b.take();
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBe(1000);
  });

  it('retryAfterMs is the time until one whole token is back', () => {
    const b = bucket();
    b.take();
    b.take();
    b.take();
    b.advance(400);
    expect(b.take().retryAfterMs).toBe(600);
    b.advance(599);
    expect(b.take().allowed).toBe(false);
    b.advance(1);
    expect(b.take().allowed).toBe(true);
  });

  it('refills continuously at one token per interval, capped at maxTokens', () => {
    const b = bucket();
    b.take();
    b.take();
    b.take();
    b.advance(2500);
    expect(b.peek()).toBeCloseTo(2.5);
    b.advance(60_000);
    expect(b.peek()).toBe(3);
    expect(b.take().remaining).toBe(2);
  });

  it('a refused call does not spend a token', () => {
    const b = bucket();
    for (let i = 0; i < 3; i++) b.take();
    for (let i = 0; i < 5; i++) expect(b.take().allowed).toBe(false);
    b.advance(1000);
    expect(b.take().allowed).toBe(true);
  });

  it('ignores a clock that goes backwards (no negative refill)', () => {
    const b = bucket();
    b.take();
    b.advance(-5000);
    expect(b.peek()).toBe(2);
  });

  it('peek of an unknown bucket is a full bucket', () => {
    expect(peekTokens(undefined, spec, 0)).toBe(3);
  });
});
