import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  decodeJwtExp,
  MessageTracker,
  newMessageId,
  RealtimeClient,
  RealtimeError,
} from './index.js';

describe('decodeJwtExp', () => {
  it('reads exp without verifying, with or without Bearer', async () => {
    const token = await new SignJWT({ organizationId: 'o', name: 'Zoë ✓' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(1_900_000_000)
      .sign(new TextEncoder().encode('any-secret-the-client-does-not-know'));
    expect(decodeJwtExp(token)).toBe(1_900_000_000);
    expect(decodeJwtExp(`Bearer ${token}`)).toBe(1_900_000_000);
  });
  it('returns undefined for garbage or a token without exp', () => {
    expect(decodeJwtExp('not-a-jwt')).toBeUndefined();
    expect(decodeJwtExp('a.%%%.c')).toBeUndefined();
    const noExp = `x.${btoa(JSON.stringify({ sub: 'u' })).replace(/=+$/, '')}.y`;
    expect(decodeJwtExp(noExp)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  const o = { baseDelayMs: 500, maxDelayMs: 8000, jitter: 0.5 };
  it('doubles up to the ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, o, () => 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000,
    ]);
  });
  it('takes up to the jitter share off, so clients spread out', () => {
    expect(backoffDelay(3, o, () => 1)).toBe(2000);
    expect(backoffDelay(3, o, () => 0.5)).toBe(3000);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, o)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) {
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe('MessageTracker', () => {
  const m = (seq: number, conversationId = 'c1') => ({ conversationId, seq });
  it('passes each seq once and tracks the contiguous watermark', () => {
    const t = new MessageTracker();
    expect(t.accept(m(1))).toBe(true);
    expect(t.accept(m(1))).toBe(false);
    expect(t.accept(m(3))).toBe(true);
    expect(t.lastContiguousSeq('c1')).toBe(1);
    expect(t.lastSeenSeq('c1')).toBe(3);
    // An older message arriving after a newer one (catch-up page after a live event) is still new.
    expect(t.accept(m(2))).toBe(true);
    expect(t.lastContiguousSeq('c1')).toBe(3);
    expect(t.accept(m(2))).toBe(false);
    expect(t.accept(m(1, 'c2'))).toBe(true);
  });
  it('advanceFloor skips what the app already has', () => {
    const t = new MessageTracker();
    t.advanceFloor('c1', 10);
    expect(t.accept(m(10))).toBe(false);
    expect(t.accept(m(12))).toBe(true);
    expect(t.lastContiguousSeq('c1')).toBe(10);
    t.advanceFloor('c1', 11);
    expect(t.lastContiguousSeq('c1')).toBe(12);
  });
  it('bounds memory per conversation', () => {
    const t = new MessageTracker(10);
    for (let s = 2; s < 40; s += 2) t.accept(m(s));
    expect(t.lastContiguousSeq('c1')).toBeGreaterThan(0);
    expect(t.accept(m(38))).toBe(false);
  });
});

describe('newMessageId and RealtimeError', () => {
  it('makes uuid v4 idempotency keys', () => {
    const id = newMessageId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newMessageId()).not.toBe(id);
  });
  it('wraps the error object keeping type, details and retryAfterMs', () => {
    const e = new RealtimeError({
      type: 'RATE_LIMIT_EXCEEDED',
      message: 'Rate limit exceeded',
      timestamp: 't',
      event: 'message:send',
      details: { retryAfterMs: 250 },
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.type).toBe('RATE_LIMIT_EXCEEDED');
    expect(e.retryAfterMs).toBe(250);
    expect(e.toJSON()).toEqual({
      type: 'RATE_LIMIT_EXCEEDED',
      message: 'Rate limit exceeded',
      timestamp: 't',
      event: 'message:send',
      details: { retryAfterMs: 250 },
    });
  });
  it('refuses to build a client without any token source', () => {
    expect(() => new RealtimeClient({ url: 'http://127.0.0.1:1' })).toThrow(TypeError);
  });
  it('rejects emits after close with CLIENT_CLOSED', async () => {
    const c = new RealtimeClient({ url: 'http://127.0.0.1:1', token: 'x' });
    c.close();
    await expect(c.emit('ping')).rejects.toMatchObject({ type: 'CLIENT_CLOSED' });
    expect(c.connectionState).toBe('closed');
  });
});
