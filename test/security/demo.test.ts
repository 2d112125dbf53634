/**
 * Finding 1 (critical): anonymous admin/service tokens outside production. With NODE_ENV=staging
 * (or unset) and a real JWT_SECRET, `POST /demo/token {role: "service"}` used to return a token
 * signed with that secret. §12.3: the demo exists only in development with the generated secret;
 * DEMO_ENABLED=true forces it outside production with a warning at every start; production never.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { connect } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';
import { hasPostgres, hasRedis, redisPrefix, REDIS_TEST_URL } from '../support/services.js';
import { eventually, spawnOnPostgres } from './support.js';

const mint = (url: string) =>
  fetch(`${url}/demo/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: 'attacker', organizationId: 'victim-school', role: 'service' }),
  });

const FORCED_WARNING = 'DEMO_ENABLED=true';

describe('demo token endpoint and page (§12.3)', () => {
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  async function expectNoDemo(s: TestServer): Promise<void> {
    const res = await mint(s.url);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { type: string }).type).toBe('RESOURCE_NOT_FOUND');
    expect((await fetch(`${s.url}/`)).status).toBe(404);
    expect((await fetch(`${s.url}/vendor/socket.io.min.js`)).status).toBe(404);
    expect(s.logs.some((l) => l.includes(FORCED_WARNING))).toBe(false);
  }

  it('NODE_ENV=staging with a real JWT_SECRET: no /demo/token, no page', async () => {
    srv = await startServer({ env: { NODE_ENV: 'staging' } });
    expect(srv.config.jwt.secretSource).toBe('env');
    await expectNoDemo(srv);
  });

  it('NODE_ENV unset with a real JWT_SECRET: no /demo/token, no page', async () => {
    srv = await startServer({ env: { NODE_ENV: '' } });
    expect(srv.config.nodeEnv).toBe('development');
    await expectNoDemo(srv);
  });

  it('NODE_ENV=development with a real JWT_SECRET: still none (the secret is not the generated one)', async () => {
    srv = await startServer({ env: { NODE_ENV: 'development' } });
    await expectNoDemo(srv);
  });

  it('NODE_ENV unset with the generated development secret: the demo is on, and its token works', async () => {
    srv = await startServer({ env: { NODE_ENV: '', JWT_SECRET: '' } });
    expect(srv.config.jwt.secretSource).toBe('generated');
    const res = await mint(srv.url);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const { socket } = await connect(srv.url, token);
    socket.close();
    expect((await fetch(`${srv.url}/`)).status).toBe(200);
    // Not forced, so no warning.
    expect(srv.logs.some((l) => l.includes(FORCED_WARNING))).toBe(false);
  });

  it.skipIf(!hasPostgres())(
    'NODE_ENV=staging with DEMO_ENABLED=true: forced on, with a warning line at start',
    async () => {
      const sp = await spawnOnPostgres({ NODE_ENV: 'staging', DEMO_ENABLED: 'true' });
      try {
        expect((await mint(sp.url)).status).toBe(200);
        expect((await fetch(`${sp.url}/`)).status).toBe(200);
        await eventually(
          () =>
            sp
              .lines()
              .some((l) => l.includes('"level":40') && l.includes(`${FORCED_WARNING}: the demo`)),
          10_000,
          'the forced-demo warning',
        );
      } finally {
        await sp.close();
      }
    },
  );

  it('DEMO_ENABLED=false turns it off even with the generated secret', async () => {
    srv = await startServer({ env: { NODE_ENV: '', JWT_SECRET: '', DEMO_ENABLED: 'false' } });
    await expectNoDemo(srv);
  });

  it('production never has it: DEMO_ENABLED=true is ignored (the start goes on, with a warning)', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      DEMO_ENABLED: 'true',
      JWT_SECRET: 'x'.repeat(40),
      DATABASE_URL: 'postgres://localhost/x',
      REDIS_URL: 'redis://localhost:6379',
      CORS_ORIGIN: 'https://app.example.org',
    });
    expect(c.demoEnabled).toBe(false);
    expect(c.demoWarning).toBe('refused-in-production');
  });

  it.skipIf(!hasPostgres() || !hasRedis())(
    'production server with DEMO_ENABLED=true: no /demo/token, no page, a warning line',
    async () => {
      const sp = await spawnOnPostgres({
        NODE_ENV: 'production',
        DEMO_ENABLED: 'true',
        CORS_ORIGIN: 'https://app.example.org',
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: redisPrefix('secdemo'),
      });
      try {
        const res = await mint(sp.url);
        expect(res.status).toBe(404);
        expect((await fetch(`${sp.url}/`)).status).toBe(404);
        await eventually(
          () => sp.lines().some((l) => l.includes('ignored in production')),
          10_000,
          'the ignored-in-production warning',
        );
      } finally {
        await sp.close();
      }
    },
  );
});
