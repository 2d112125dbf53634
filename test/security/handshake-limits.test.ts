import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, connectError, type TestSocket } from '../support/client.js';
import { hasRedis, redisPrefix, REDIS_TEST_URL } from '../support/services.js';
import { startServer, useServer, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { uid } from '../support/ids.js';

/**
 * §12.3 handshake limits, attacked through raw Engine.IO packets and real clients:
 * aborted handshakes hold no connection slot (#11 finding 5), a flood of bad tokens from one
 * address does not lock out valid users behind the same NAT address (finding 13), TRUST_PROXY,
 * the `handshake:user` bucket and WS_CONNECT_TIMEOUT_MS.
 */

function wsUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
}

/** Opens a raw Engine.IO websocket and waits for its open packet ("0{...}"). */
function rawOpen(base: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(base));
    ws.once('error', reject);
    ws.once('message', (data) => {
      const text = (data as Buffer).toString();
      if (text.startsWith('0')) resolve(ws);
      else reject(new Error(`unexpected first packet ${text.slice(0, 20)}`));
    });
  });
}

/** The attack: namespace CONNECT with a valid token, then the connection is gone at once. */
async function abortedHandshake(base: string, token: string, ns = ''): Promise<void> {
  const ws = await rawOpen(base);
  ws.send(`40${ns ? `${ns},` : ''}${JSON.stringify({ token })}`);
  ws.terminate();
}

async function abortMany(base: string, token: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, (_, k) =>
        abortedHandshake(base, token, (i + k) % 2 === 0 ? '' : '/communication'),
      ),
    );
  }
}

/** Opens `n` sockets of one user; all must be confirmed. */
async function openCap(base: string, token: string, n: number): Promise<TestSocket[]> {
  const out: TestSocket[] = [];
  for (let i = 0; i < n; i++) out.push((await connect(base, token)).socket);
  return out;
}

const RELAXED_BUCKETS = {
  'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
  'handshake:user': { maxTokens: 100000, refillIntervalMs: 1 },
};

describe('aborted handshakes hold no connection slot (one node, PGlite)', () => {
  const srv = useServer({
    env: {
      WS_MAX_CONNECTIONS_PER_USER: '3',
      RATE_LIMITS: JSON.stringify(RELAXED_BUCKETS),
      LOG_LEVEL: 'warn',
    },
  });

  it('40 CONNECT-then-close handshakes: the user still opens the cap’s worth of sockets', async () => {
    const token = await signToken({ userId: uid('abort'), organizationId: 'org-abort' });
    await abortMany(srv.url, token, 40);
    const sockets = await openCap(srv.url, token, 3);
    // The cap itself still holds: a 4th live socket is refused.
    const over = await connectError(srv.url, token);
    expect(over.message).toBe('RATE_LIMIT_EXCEEDED');
    closeAll(...sockets);
  }, 30_000);
});

describe.skipIf(!hasRedis())(
  'aborted handshakes hold no slot on any node (two nodes, Redis)',
  () => {
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      const env = {
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: redisPrefix('hsabort'),
        WS_MAX_CONNECTIONS_PER_USER: '3',
        RATE_LIMITS: JSON.stringify(RELAXED_BUCKETS),
        LOG_LEVEL: 'warn',
      };
      a = await startServer({ env });
      b = await startServer({ env });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('aborts on both nodes leave no Redis slot behind: the cap is reachable from either node', async () => {
      const token = await signToken({ userId: uid('abort2'), organizationId: 'org-abort2' });
      await Promise.all([abortMany(a.url, token, 40), abortMany(b.url, token, 40)]);
      const sockets = [...(await openCap(a.url, token, 2)), ...(await openCap(b.url, token, 1))];
      const over = await connectError(b.url, token);
      expect(over.message).toBe('RATE_LIMIT_EXCEEDED');
      closeAll(...sockets);
    }, 40_000);
  },
);

describe('NAT: bad tokens spend the address bucket, valid users still connect', () => {
  const srv = useServer({
    env: {
      LOG_LEVEL: 'warn',
      RATE_LIMITS: JSON.stringify({
        'handshake:ip': { maxTokens: 20, refillIntervalMs: 60_000 },
      }),
    },
  });

  it('a flood of bad-token handshakes from one address, then 10 valid users from it all connect', async () => {
    const refused: string[] = [];
    const retryAfter: number[] = [];
    for (let i = 0; i < 40; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, (_, k) =>
          connectError(srv.url, k % 3 === 0 ? undefined : `bad-token-${i + k}`),
        ),
      );
      for (const e of batch) {
        refused.push(e.message);
        if (e.message === 'RATE_LIMIT_EXCEEDED')
          retryAfter.push((e.data?.details as { retryAfterMs: number }).retryAfterMs);
      }
    }
    expect(refused.filter((m) => m === 'AUTHENTICATION_FAILED')).toHaveLength(20);
    expect(refused.filter((m) => m === 'RATE_LIMIT_EXCEEDED')).toHaveLength(20);
    expect(retryAfter.every((ms) => ms > 0)).toBe(true);

    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        signToken({ userId: uid(`nat-${i}`), organizationId: 'org-nat' }),
      ),
    );
    const users = await Promise.all(tokens.map((t) => connect(srv.url, t)));
    expect(users.map((u) => u.confirmed.organizationId)).toEqual(Array(10).fill('org-nat'));
    // The bucket is still empty for refused handshakes of that address.
    expect((await connectError(srv.url, 'still-bad')).message).toBe('RATE_LIMIT_EXCEEDED');
    closeAll(...users.map((u) => u.socket));
  }, 40_000);

  it('handshake:user limits one user’s handshakes, not the others of the same address', async () => {
    const limited = await startServer({
      env: {
        LOG_LEVEL: 'warn',
        RATE_LIMITS: JSON.stringify({
          'handshake:user': { maxTokens: 3, refillIntervalMs: 60_000 },
        }),
      },
    });
    try {
      const token = await signToken({ userId: uid('hsuser'), organizationId: 'org-hsu' });
      for (let i = 0; i < 3; i++) (await connect(limited.url, token)).socket.close();
      const err = await connectError(limited.url, token);
      expect(err.message).toBe('RATE_LIMIT_EXCEEDED');
      expect((err.data?.details as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(1000);
      const other = await connect(
        limited.url,
        await signToken({ userId: uid('hsother'), organizationId: 'org-hsu' }),
      );
      other.socket.close();
    } finally {
      await limited.close();
    }
  });
});

describe('TRUST_PROXY and X-Forwarded-For', () => {
  const limits = JSON.stringify({ 'handshake:ip': { maxTokens: 2, refillIntervalMs: 60_000 } });
  const bad = (url: string, xff: string) =>
    connectError(url, 'bad-token', { extraHeaders: { 'X-Forwarded-For': xff } });

  it('from a trusted proxy, the rightmost untrusted X-Forwarded-For address has its own bucket', async () => {
    // The test client connects from 127.0.0.1: here it plays the trusted proxy.
    const srv = await startServer({
      env: { LOG_LEVEL: 'warn', TRUST_PROXY: '127.0.0.1/32, 10.0.0.0/8', RATE_LIMITS: limits },
    });
    try {
      // "1.1.1.1" is left of the client address and may be forged by it: it is not the key.
      expect((await bad(srv.url, '1.1.1.1, 203.0.113.5')).message).toBe('AUTHENTICATION_FAILED');
      expect((await bad(srv.url, '9.9.9.9, 203.0.113.5')).message).toBe('AUTHENTICATION_FAILED');
      expect((await bad(srv.url, '203.0.113.5')).message).toBe('RATE_LIMIT_EXCEEDED');
      // A trusted hop (10.x) right of the client is skipped: the client is still 203.0.113.5.
      expect((await bad(srv.url, '203.0.113.5, 10.1.2.3')).message).toBe('RATE_LIMIT_EXCEEDED');
      // Another school behind the same proxy has its own bucket.
      expect((await bad(srv.url, '198.51.100.7')).message).toBe('AUTHENTICATION_FAILED');
    } finally {
      await srv.close();
    }
  });

  it('from an untrusted peer, X-Forwarded-For is ignored (no spoofing into fresh buckets)', async () => {
    const srv = await startServer({
      env: { LOG_LEVEL: 'warn', TRUST_PROXY: '10.0.0.1', RATE_LIMITS: limits },
    });
    try {
      expect((await bad(srv.url, '203.0.113.1')).message).toBe('AUTHENTICATION_FAILED');
      expect((await bad(srv.url, '203.0.113.2')).message).toBe('AUTHENTICATION_FAILED');
      // A new forged address per attempt does not help: the socket's address is the key.
      expect((await bad(srv.url, '203.0.113.3')).message).toBe('RATE_LIMIT_EXCEEDED');
    } finally {
      await srv.close();
    }
  });
});

describe('WS_CONNECT_TIMEOUT_MS', () => {
  const srv = useServer({ env: { LOG_LEVEL: 'warn', WS_CONNECT_TIMEOUT_MS: '600' } });

  /** Keeps the Engine.IO connection alive (answers pings) and resolves when the server closes it. */
  const closedAfter = (ws: WebSocket, started: number) =>
    new Promise<number>((resolve) => {
      ws.on('message', (d) => {
        if ((d as Buffer).toString() === '2') ws.send('3');
      });
      ws.once('close', () => resolve(Date.now() - started));
    });

  it('a raw Engine.IO connection that never sends a namespace CONNECT is closed after the timeout', async () => {
    const started = Date.now();
    const ws = await rawOpen(srv.url);
    const elapsed = await closedAfter(ws, started);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(5000);
  });

  it('a connection whose only CONNECT was refused is closed after the timeout too', async () => {
    const started = Date.now();
    const ws = await rawOpen(srv.url);
    const answers: string[] = [];
    ws.on('message', (d) => answers.push((d as Buffer).toString()));
    ws.send(`40${JSON.stringify({ token: 'bad-token' })}`);
    const elapsed = await closedAfter(ws, started);
    expect(answers.some((a) => a.startsWith('44') && a.includes('AUTHENTICATION_FAILED'))).toBe(
      true,
    );
    expect(elapsed).toBeLessThan(5000);
  });

  it('an authenticated connection is not closed by it', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: uid('ct'), organizationId: 'org-ct' }),
    );
    await new Promise((r) => setTimeout(r, 1200));
    expect(socket.connected).toBe(true);
    socket.close();
  });
});
