import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { connect } from './support/client.js';
import { startServer, useServer } from './support/server.js';
import {
  createTestDatabase,
  hasPostgres,
  hasRedis,
  redisPrefix,
  REDIS_TEST_URL,
} from './support/services.js';

const post = (url: string, body: unknown) =>
  fetch(`${url}/demo/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('demo page and token endpoint (development)', () => {
  const srv = useServer({ env: { DEMO_ENABLED: 'true' } });
  beforeAll(async () => {
    // The test server has a configured JWT_SECRET, so the demo is forced on (§12.3).
  });

  it('serves the page at / with a strict CSP, and the SDK browser bundle from the workspace package', async () => {
    const page = await fetch(`${srv.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('/vendor/realtime-client.js');
    expect(html).toContain('/app.js');
    const bundle = await fetch(`${srv.url}/vendor/realtime-client.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
    expect(await bundle.text()).toContain('RealtimeClient');
    expect((await fetch(`${srv.url}/favicon.svg`)).status).toBe(200);
    expect((await fetch(`${srv.url}/app.js`)).status).toBe(200);
    // Anything that is not a file of web/ still reaches the API.
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    expect((await fetch(`${srv.url}/nope.html`)).status).toBe(404);
  });

  it('mints a token the socket server accepts, and never logs it', async () => {
    const res = await post(srv.url, {
      userId: 'nurse-amy',
      organizationId: 'demo-lincoln',
      role: 'nurse',
    });
    expect(res.status).toBe(200);
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() + 3000_000);
    const { socket, confirmed } = await connect(srv.url, token);
    expect(confirmed).toMatchObject({
      userId: 'nurse-amy',
      organizationId: 'demo-lincoln',
      role: 'nurse',
    });
    socket.close();
    expect(srv.logs.some((l) => l.includes(token) || l.includes(token.split('.')[2]))).toBe(false);
    expect(srv.logs.some((l) => l.includes('demo token issued'))).toBe(true);
  });

  it('validates the body like any other payload (no value echoed)', async () => {
    const res = await post(srv.url, {
      userId: 'bad id!',
      organizationId: 'demo-lincoln',
      role: 'janitor',
      extra: 'secret-value',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      type: string;
      details: Array<{ field: string; constraints: string[] }>;
    };
    expect(body.type).toBe('VALIDATION_ERROR');
    expect(body.details.map((d) => d.field).sort()).toEqual(['extra', 'role', 'userId']);
    expect(JSON.stringify(body)).not.toContain('secret-value');
    expect(JSON.stringify(body)).not.toContain('bad id!');
    const short = await post(srv.url, {
      userId: 'u',
      organizationId: 'o',
      role: 'nurse',
      ttlSeconds: 5,
    });
    expect(short.status).toBe(400);
  });
});

describe('demo is absent when disabled or in production', () => {
  it('loadConfig never enables the demo in production, even when asked', () => {
    const prod = loadConfig({
      NODE_ENV: 'production',
      DEMO_ENABLED: 'true',
      JWT_SECRET: 'x'.repeat(40),
      DATABASE_URL: 'postgres://localhost/x',
      REDIS_URL: 'redis://localhost:6379',
      CORS_ORIGIN: 'https://app.example.org',
    });
    expect(prod.demoEnabled).toBe(false);
    expect(loadConfig({ DEMO_ENABLED: 'false', JWT_SECRET: 'x'.repeat(40) }).demoEnabled).toBe(
      false,
    );
  });

  const expectNoDemo = async (url: string) => {
    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/app.js`)).status).toBe(404);
    expect((await fetch(`${url}/vendor/realtime-client.js`)).status).toBe(404);
    const token = await post(url, { userId: 'u1', organizationId: 'o1', role: 'admin' });
    expect(token.status).toBe(404);
    expect(((await token.json()) as { type: string }).type).toBe('RESOURCE_NOT_FOUND');
    expect((await fetch(`${url}/health`)).status).toBe(200);
  };

  it('DEMO_ENABLED=false: no page, no bundle, no token endpoint', async () => {
    const srv = await startServer({ env: { DEMO_ENABLED: 'false' } });
    try {
      await expectNoDemo(srv.url);
    } finally {
      await srv.close();
    }
  });

  it.skipIf(!hasPostgres() || !hasRedis())(
    'NODE_ENV=production: no page, no bundle, no token endpoint',
    async () => {
      const db = await createTestDatabase('demo');
      const srv = await startServer({
        databaseUrl: db.url,
        env: {
          NODE_ENV: 'production',
          DEMO_ENABLED: 'true',
          CORS_ORIGIN: 'https://app.example.org',
          REDIS_URL: REDIS_TEST_URL,
          REDIS_KEY_PREFIX: redisPrefix('demo'),
        },
      });
      try {
        expect(srv.config.isProduction).toBe(true);
        await expectNoDemo(srv.url);
      } finally {
        await srv.close();
        await db.drop();
      }
    },
  );
});
