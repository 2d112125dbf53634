import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectError } from '../support/client.js';
import { http } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

/**
 * JWKS with RSA and EC keys (identity providers rotate between them): tokens verify without
 * JWT_ALGORITHM, pinned to the asymmetric algorithms the keys allow. Algorithm-confusion tokens
 * (HS256 keyed with public material or with the server's HS secret, `alg: none`) never pass.
 * On the old code an ES256 token was refused unless JWT_ALGORITHM=ES256 — and then every RS256
 * one was.
 */
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('JWKS with RSA and EC keys', () => {
  let jwksServer: Server;
  let jwksUrl: string;
  let srv: TestServer;
  let pinned: TestServer;
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let foreignEc: CryptoKey;
  let ecPublic: JWK;

  const claims = { organizationId: 'jwks-org', role: 'nurse' };
  const sign = (alg: 'RS256' | 'ES256', key: CryptoKey, kid: string, sub = 'jwks-user') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid })
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);

  beforeAll(async () => {
    const r = await generateKeyPair('RS256', { extractable: true });
    const e = await generateKeyPair('ES256', { extractable: true });
    const f = await generateKeyPair('ES256', { extractable: true });
    rsa = r.privateKey;
    ec = e.privateKey;
    foreignEc = f.privateKey;
    ecPublic = { ...(await exportJWK(e.publicKey)), kid: 'ec-1', use: 'sig' };
    const keys = [{ ...(await exportJWK(r.publicKey)), kid: 'rsa-1', use: 'sig' }, ecPublic];
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    // JWT_SECRET is set too (startServer's default): the JWKS wins, and the secret must not be
    // accepted as a second way in.
    srv = await startServer({ env: { JWT_JWKS_URL: jwksUrl } });
    pinned = await startServer({ env: { JWT_JWKS_URL: jwksUrl, JWT_ALGORITHM: 'RS256' } });
  });
  afterAll(async () => {
    await srv?.close();
    await pinned?.close();
    await new Promise((r) => jwksServer?.close(r));
  });

  it('ES256 and RS256 tokens both verify without JWT_ALGORITHM', async () => {
    for (const token of [await sign('ES256', ec, 'ec-1'), await sign('RS256', rsa, 'rsa-1')]) {
      const c = await connect(srv.url, token);
      expect(c.confirmed).toMatchObject({ userId: 'jwks-user', organizationId: 'jwks-org' });
      c.socket.close();
    }
    const admin = await new SignJWT({ organizationId: 'jwks-org', role: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
      .setSubject('jwks-admin')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(ec);
    expect((await http(srv.url, 'GET', '/api/v1/rate-limits', { token: admin })).status).toBe(200);
  });

  it('algorithm confusion and forged keys are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...claims, sub: 'jwks-user', iat: now, exp: now + 3600 };
    const hmac = async (secret: string, kid?: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', ...(kid ? { kid } : {}) })
        .setSubject('jwks-user')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret));
    const attacks: Array<[string, string]> = [
      ['HS256 keyed with the EC public JWK', await hmac(JSON.stringify(ecPublic), 'ec-1')],
      ['HS256 keyed with the public x coordinate', await hmac(ecPublic.x!, 'ec-1')],
      ['HS256 with the configured JWT_SECRET', await hmac(TEST_JWT_SECRET)],
      ['alg none', `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`],
      ['ES256 by a key not in the set', await sign('ES256', foreignEc, 'ec-1')],
      ['ES256 naming the RSA key', await sign('ES256', ec, 'rsa-1')],
    ];
    for (const [what, token] of attacks) {
      const err = await connectError(srv.url, token);
      expect(err.message, what).toBe('AUTHENTICATION_FAILED');
      expect((await http(srv.url, 'GET', '/api/v1/rate-limits', { token })).status, what).toBe(401);
    }
  });

  it('JWT_ALGORITHM, when set, still pins one algorithm', async () => {
    const rs = await connect(pinned.url, await sign('RS256', rsa, 'rsa-1'));
    rs.socket.close();
    expect((await connectError(pinned.url, await sign('ES256', ec, 'ec-1'))).message).toBe(
      'AUTHENTICATION_FAILED',
    );
  });
});
