/**
 * Findings 11, 12, 14, 15: validation answers that grow with the input, no limit on creating
 * 500-participant conversations (and a cache that grew with them), no HTTP rate limit, and no
 * per-socket subscription cap. §12.3 settles each.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, rawRequest, request, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { GENEROUS_LIMITS, user } from '../support/messaging.js';
import { useServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';

describe('validation answers stay small (§12.3, finding 12)', () => {
  const srv = useServer();
  let socket: TestSocket;
  beforeAll(async () => {
    socket = (await user(srv.url, 'lim-v', 'lim-org')).socket;
  });
  afterAll(async () => {
    socket?.close();
  });

  it('12,000 bad participantIds: one arrayMaxSize entry, a small answer', async () => {
    const participantIds = Array.from({ length: 12_000 }, () => 'a!');
    const payload = { participantIds };
    expect(JSON.stringify(payload).length).toBeGreaterThan(48_000);
    const res = (await rawRequest(socket, 'conversation:create', payload)) as {
      ok: false;
      error: { type: string; details: Array<{ field: string; constraints: string[] }> };
    };
    expect(res.ok).toBe(false);
    expect(res.error.type).toBe('VALIDATION_ERROR');
    expect(res.error.details).toEqual([{ field: 'participantIds', constraints: ['arrayMaxSize'] }]);
    expect(JSON.stringify(res).length).toBeLessThan(1000);
  });

  it('501 well-formed ids: reported once as arrayMaxSize', async () => {
    const res = (await rawRequest(socket, 'conversation:create', {
      participantIds: Array.from({ length: 501 }, (_, i) => `u${i}`),
    })) as { ok: false; error: { details: unknown } };
    expect(res.error.details).toEqual([{ field: 'participantIds', constraints: ['arrayMaxSize'] }]);
  });

  it('many bad elements within the size limit, or many unknown keys: at most 20 details', async () => {
    const bad = (await rawRequest(socket, 'conversation:create', {
      participantIds: Array.from({ length: 500 }, () => 'a!'),
    })) as { ok: false; error: { details: unknown[] } };
    expect(bad.error.details).toHaveLength(20);
    const keys = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 1]));
    const many = (await rawRequest(socket, 'ping', keys)) as { ok: boolean };
    expect(many.ok).toBe(true); // ping takes no payload: nothing to validate
    const unknown = (await rawRequest(socket, 'subscribe', {
      channel: 'org:lim-org',
      ...keys,
    })) as {
      ok: false;
      error: { details: unknown[] };
    };
    expect(unknown.error.details).toHaveLength(20);
    const svc = await signToken({ userId: 'lim-svc', organizationId: 'lim-org', role: 'service' });
    const httpRes = await http<{ details: unknown[] }>(srv.url, 'POST', '/api/v1/notifications', {
      token: svc,
      body: { organizationId: 'lim-org', type: 't', title: 'x', ...keys },
    });
    expect(httpRes.status).toBe(400);
    expect(httpRes.body.details).toHaveLength(20);
  });
});

describe('at most 100 subscribed channels per socket (§12.3, finding 15)', () => {
  const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });
  let socket: TestSocket;
  beforeAll(async () => {
    socket = (await user(srv.url, 'lim-s', 'lim-org')).socket;
  });
  afterAll(async () => {
    socket?.close();
  });

  it('the 101st distinct channel → BAD_REQUEST; holding ones and automatic rooms are not counted', async () => {
    // A conversation room does not count either.
    const conv = await request(socket, 'conversation:create', { participantIds: ['lim-x'] });
    if (!conv.ok) throw new Error('create failed');
    expect(
      (await request(socket, 'conversation:join', { conversationId: conv.data.conversation.id }))
        .ok,
    ).toBe(true);
    for (let i = 0; i < 100; i++) {
      const res = await request(socket, 'subscribe', { channel: `org:lim-org:t${i}` });
      expect(res.ok, `channel ${i}`).toBe(true);
    }
    const over = await request(socket, 'subscribe', { channel: 'org:lim-org:t100' });
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.error.type).toBe('BAD_REQUEST');
    expect((await request(socket, 'subscribe', { channel: 'org:lim-org:t5' })).ok).toBe(true);
    expect((await request(socket, 'subscribe', { channel: 'org:lim-org' })).ok).toBe(true);
    expect((await request(socket, 'subscribe', { channel: 'user:lim-s' })).ok).toBe(true);
    // Leaving one frees a place.
    expect((await request(socket, 'unsubscribe', { channel: 'org:lim-org:t0' })).ok).toBe(true);
    expect((await request(socket, 'subscribe', { channel: 'org:lim-org:t100' })).ok).toBe(true);
  });
});

describe('conversation:create bucket and a cache bounded by bytes (§12.3, finding 11)', () => {
  const srv = useServer({ env: { CONVERSATION_CACHE_BYTES: String(256 * 1024) } });
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  const participants = (tag: string) =>
    Array.from({ length: 499 }, (_, i) => `p-${tag}-${String(i).padStart(4, '0')}`);

  it('a flood of 500-participant conversations from 8 accounts: 5 each, then RATE_LIMIT_EXCEEDED', async () => {
    const accounts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => user(srv.url, `flood-${i}`, 'lim-flood')),
    );
    open.push(...accounts.map((a) => a.socket));
    const results = await Promise.all(
      accounts.flatMap((a, i) =>
        Array.from({ length: 10 }, (_, j) =>
          request(a.socket, 'conversation:create', { participantIds: participants(`${i}-${j}`) }),
        ),
      ),
    );
    const ok = results.filter((r) => r.ok);
    const limited = results.filter((r) => !r.ok && r.error.type === 'RATE_LIMIT_EXCEEDED');
    expect(ok).toHaveLength(40);
    expect(limited).toHaveLength(40);
    for (const r of limited) {
      if (r.ok) continue;
      const retry = (r.error.details as { retryAfterMs: number }).retryAfterMs;
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(10_000);
    }
    // 40 conversations of 500 participants are several times the 256 KiB budget.
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    const bytes = Number(/^realtime_conversation_cache_bytes (\d+)/m.exec(metrics)?.[1]);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(256 * 1024);
    // An evicted conversation is read again on demand.
    const first = ok[0];
    if (!first.ok) throw new Error('unreachable');
    const owner = accounts.find((a) => a.userId === first.data.conversation.createdBy)!;
    const joined = await request(owner.socket, 'conversation:join', {
      conversationId: first.data.conversation.id,
    });
    expect(joined.ok).toBe(true);
    const sent = await request(owner.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: first.data.conversation.id,
      content: 'still works',
    });
    expect(sent.ok).toBe(true);
  });
});

describe('HTTP API limits (§12.3, finding 14)', () => {
  // http:api refills slowly here so that a burst on a loaded machine cannot refill its way
  // past the limit (the default is 100 tokens, 1 every 50 ms).
  const srv = useServer({
    env: {
      RATE_LIMITS: JSON.stringify({
        'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
        'http:api': { maxTokens: 100, refillIntervalMs: 60_000 },
      }),
    },
  });

  it('http:auth-failure: 20 bad-token requests answer 401, then 429 with Retry-After; a valid token still passes', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 25; i++) {
      last = await fetch(`${srv.url}/api/v1/alerts/${randomUUID()}`, {
        headers: { authorization: 'Bearer not-a-token' },
      });
      statuses.push(last.status);
      if (i < 24) await last.text();
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const body = (await last!.json()) as { type: string; details: { retryAfterMs: number } };
    expect(body.type).toBe('RATE_LIMIT_EXCEEDED');
    expect(body.details.retryAfterMs).toBeGreaterThan(0);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Same address, valid token: not locked out (schools sit behind one NAT address).
    const svc = await signToken({ userId: 'lim-ok', organizationId: 'lim-h', role: 'service' });
    const okRes = await http(srv.url, 'POST', '/api/v1/channels/publish', {
      token: svc,
      body: { channel: 'org:lim-h', event: 'e', data: {} },
    });
    expect(okRes.status).toBe(202);
  });

  it('http:api: 100 requests per principal, then 429; another principal (same user id, other org) is untouched', async () => {
    const a = await signToken({ userId: 'same-id', organizationId: 'lim-a', role: 'service' });
    const b = await signToken({ userId: 'same-id', organizationId: 'lim-b', role: 'service' });
    const publish = (token: string, org: string) =>
      fetch(`${srv.url}/api/v1/channels/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: `org:${org}`, event: 'e', data: { n: 1 } }),
      });
    const responses = await Promise.all(Array.from({ length: 130 }, () => publish(a, 'lim-a')));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(100);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(30);
    const body = (await limited[0].json()) as { type: string; details: { retryAfterMs: number } };
    expect(body.type).toBe('RATE_LIMIT_EXCEEDED');
    expect(body.details.retryAfterMs).toBeGreaterThan(0);
    expect(Number(limited[0].headers.get('retry-after'))).toBe(
      Math.ceil(body.details.retryAfterMs / 1000),
    );
    expect((await publish(b, 'lim-b')).status).toBe(202);
  });
});
