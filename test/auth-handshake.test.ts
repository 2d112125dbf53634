import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  client,
  connect,
  connectError,
  ok,
  request,
  waitFor,
  closeAll,
  type TestSocket,
} from './support/client.js';
import { startServer, useServer } from './support/server.js';
import { signToken, TEST_JWT_SECRET } from './support/tokens.js';

const key = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

describe('handshake authentication (HS256)', () => {
  const srv = useServer({ env: { CORS_ORIGIN: 'https://app.example.org' } });

  const refusedWith = async (
    token: string | undefined,
    detail: 'missing' | 'invalid' | 'expired',
    opts = {},
  ) => {
    const err = await connectError(srv.url, token, opts);
    expect(err.message).toBe('AUTHENTICATION_FAILED');
    expect(err.data?.type).toBe('AUTHENTICATION_FAILED');
    expect(err.data?.message.toLowerCase()).toContain(detail);
    expect(typeof err.data?.timestamp).toBe('string');
  };

  it('refuses a handshake without a token', () => refusedWith(undefined, 'missing'));
  it('refuses garbage', () => refusedWith('not-a-jwt', 'invalid'));
  it('refuses a token signed with another key', async () =>
    refusedWith(
      await signToken({
        userId: 'u1',
        organizationId: 'o1',
        secret: 'another-secret-of-sufficient-length-000',
      }),
      'invalid',
    ));
  it('refuses alg none', async () => {
    const t = new UnsecuredJWT({ sub: 'u1', organizationId: 'o1' })
      .setExpirationTime('1h')
      .encode();
    await refusedWith(t, 'invalid');
  });
  it('refuses an expired token (beyond the 30 s tolerance)', async () =>
    refusedWith(await signToken({ userId: 'u1', organizationId: 'o1', ttl: -60 }), 'expired'));
  it('accepts a token expired within the tolerance', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: 'u1', organizationId: 'o1', ttl: -10 }),
    );
    socket.close();
  });
  it('refuses a token without exp', async () => {
    const t = await new SignJWT({ sub: 'u1', organizationId: 'o1' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    await refusedWith(t, 'invalid');
  });
  it('refuses iat and nbf more than the tolerance in the future', async () => {
    await refusedWith(
      await signToken({ userId: 'u1', organizationId: 'o1', iat: now() + 120 }),
      'invalid',
    );
    const t = await new SignJWT({ sub: 'u1', organizationId: 'o1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(now() + 120)
      .setExpirationTime('1h')
      .sign(key);
    await refusedWith(t, 'invalid');
  });
  it('refuses ids with bad characters and unknown roles', async () => {
    await refusedWith(await signToken({ userId: 'u 1', organizationId: 'o1' }), 'invalid');
    await refusedWith(await signToken({ userId: 'u1', organizationId: 'o/1' }), 'invalid');
    await refusedWith(
      await signToken({ userId: 'u1', organizationId: 'o1', role: 'janitor' }),
      'invalid',
    );
    await refusedWith(await signToken({ userId: 'u1', organizationId: 'x'.repeat(65) }), 'invalid');
  });

  it('maps claims: sub|userId|id, organizationId|orgId|tenantId, role|roles[0], default staff', async () => {
    const t1 = await new SignJWT({ userId: 'alice', orgId: 'school-9', roles: ['nurse', 'admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(key);
    const a = await connect(srv.url, t1);
    expect(a.confirmed).toMatchObject({
      userId: 'alice',
      organizationId: 'school-9',
      role: 'nurse',
      socketId: a.socket.id,
    });
    expect(new Date(a.confirmed.serverTime).toISOString()).toBe(a.confirmed.serverTime);
    const t2 = await new SignJWT({ id: 'bob', tenantId: 'school-9' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(key);
    const b = await connect(srv.url, t2);
    expect(b.confirmed).toMatchObject({ userId: 'bob', organizationId: 'school-9', role: 'staff' });
    closeAll(a.socket, b.socket);
  });

  it('accepts auth.token with and without Bearer, the Authorization header and ?token=', async () => {
    const t = await signToken({ userId: 'u2', organizationId: 'o1' });
    const viaAuth = await connect(srv.url, `Bearer ${t}`);
    const viaHeader = await connect(srv.url, '', {
      auth: {},
      transports: ['polling'],
      extraHeaders: { Authorization: `Bearer ${t}` },
    });
    const viaQuery = await connect(srv.url, '', { auth: {}, query: { token: t } });
    for (const c of [viaAuth, viaHeader, viaQuery]) expect(c.confirmed.userId).toBe('u2');
    closeAll(viaAuth.socket, viaHeader.socket, viaQuery.socket);
  });

  it('refuses a foreign Origin at the HTTP level and lets allowed, own and absent origins through', async () => {
    const t = await signToken({ userId: 'u3', organizationId: 'o1' });
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { Origin: 'https://evil.example.com' },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const err = await connectError(srv.url, t, {
      transports: ['polling'],
      extraHeaders: { Origin: 'https://evil.example.com' },
    });
    expect(err.message).not.toBe('AUTHENTICATION_FAILED');
    const allowed = await connect(srv.url, t, {
      transports: ['polling'],
      extraHeaders: { Origin: 'https://app.example.org' },
    });
    const own = await connect(srv.url, t, {
      transports: ['polling'],
      extraHeaders: { Origin: srv.url },
    });
    const none = await connect(srv.url, t);
    closeAll(allowed.socket, own.socket, none.socket);
  });

  it('guards /communication with the same authentication', async () => {
    const err = await connectError(srv.url, 'garbage', { namespace: '/communication' });
    expect(err.message).toBe('AUTHENTICATION_FAILED');
    const c = await connect(srv.url, await signToken({ userId: 'u4', organizationId: 'o1' }), {
      namespace: '/communication',
    });
    expect(c.confirmed.userId).toBe('u4');
    c.socket.close();
  });
});

describe('handshake with RS256/ES256 public keys', () => {
  for (const kind of ['rsa', 'ec'] as const) {
    it(`verifies ${kind === 'rsa' ? 'RS256' : 'ES256'} and refuses HS tokens`, async () => {
      const { privateKey, publicKey } =
        kind === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const srv = await startServer({ env: { JWT_PUBLIC_KEY: pem } });
      try {
        const alg = kind === 'rsa' ? 'RS256' : 'ES256';
        const good = await new SignJWT({ sub: 'u1', organizationId: 'o1' })
          .setProtectedHeader({ alg })
          .setExpirationTime('1h')
          .sign(privateKey);
        const c = await connect(srv.url, good);
        c.socket.close();
        // An HS256 token "signed" with the public key text must never pass (algorithm confusion).
        const confused = await new SignJWT({ sub: 'u1', organizationId: 'o1' })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(pem));
        expect((await connectError(srv.url, confused)).message).toBe('AUTHENTICATION_FAILED');
        expect(
          (await connectError(srv.url, await signToken({ userId: 'u1', organizationId: 'o1' })))
            .message,
        ).toBe('AUTHENTICATION_FAILED');
      } finally {
        await srv.close();
      }
    });
  }
});

describe('issuer and audience', () => {
  it('checks iss and aud when configured', async () => {
    const srv = await startServer({
      env: { JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'realtime' },
    });
    try {
      const good = await signToken({
        userId: 'u1',
        organizationId: 'o1',
        extra: { iss: 'https://idp.example', aud: 'realtime' },
      });
      (await connect(srv.url, good)).socket.close();
      const badIss = await signToken({
        userId: 'u1',
        organizationId: 'o1',
        extra: { iss: 'https://other', aud: 'realtime' },
      });
      expect((await connectError(srv.url, badIss)).message).toBe('AUTHENTICATION_FAILED');
      const noAud = await signToken({
        userId: 'u1',
        organizationId: 'o1',
        extra: { iss: 'https://idp.example' },
      });
      expect((await connectError(srv.url, noAud)).message).toBe('AUTHENTICATION_FAILED');
    } finally {
      await srv.close();
    }
  });
});

describe('expiry while connected and auth:refresh', () => {
  const srv = useServer({ env: { JWT_CLOCK_TOLERANCE_SECONDS: '0' } });

  it('emits auth:expired then disconnects at exp (+ tolerance)', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: 'exp1', organizationId: 'o1', ttl: 2 }),
    );
    const expired = waitFor(socket, 'auth:expired', () => true, 5000);
    const reason = new Promise<string>((r) => socket.once('disconnect', r));
    expect((await expired).type).toBe('AUTHENTICATION_FAILED');
    expect(await reason).toBe('io server disconnect');
  });

  it('auth:refresh with a valid token of the same user moves the expiry', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: 'exp2', organizationId: 'o1', ttl: 2 }),
    );
    const fresh = await signToken({ userId: 'exp2', organizationId: 'o1', ttl: 600 });
    const data = await ok(socket, 'auth:refresh', { token: fresh });
    expect(Date.parse(data.expiresAt)).toBeGreaterThan(Date.now() + 500_000);
    let expired = false;
    socket.on('auth:expired', () => (expired = true));
    // Past the original exp: the socket must still answer.
    await new Promise((r) => setTimeout(r, 2600));
    expect((await request(socket, 'ping')).ok).toBe(true);
    expect(expired).toBe(false);
    socket.close();
  });

  it('refuses a refresh with an invalid token or another user (session unchanged)', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: 'exp3', organizationId: 'o1', ttl: 600 }),
    );
    const bad = await request(socket, 'auth:refresh', { token: 'garbage' });
    expect(!bad.ok && bad.error.type).toBe('AUTHENTICATION_FAILED');
    const other = await request(socket, 'auth:refresh', {
      token: await signToken({ userId: 'someone', organizationId: 'o1' }),
    });
    expect(!other.ok && other.error.type).toBe('AUTHORIZATION_FAILED');
    const otherOrg = await request(socket, 'auth:refresh', {
      token: await signToken({ userId: 'exp3', organizationId: 'o2' }),
    });
    expect(!otherOrg.ok && otherOrg.error.type).toBe('AUTHORIZATION_FAILED');
    expect(socket.connected).toBe(true);
    socket.close();
  });
});

// Unused helper import guard for strict lint.
void client;
export type { TestSocket };
