import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, rawRequest, request, type TestSocket } from './support/client.js';
import { startServer, useServer } from './support/server.js';
import { hasRedis, REDIS_TEST_URL, redisPrefix } from './support/services.js';
import { signToken } from './support/tokens.js';

describe('/health, /ready and /metrics', () => {
  const srv = useServer({
    env: { RATE_LIMITS: '{"default":{"maxTokens":2,"refillIntervalMs":60000}}' },
  });
  let root: TestSocket;
  let comm: TestSocket;
  beforeAll(async () => {
    const token = await signToken({ userId: 'obs-1', organizationId: 'school-obs' });
    root = (await connect(srv.url, token)).socket;
    comm = (await connect(srv.url, token, { namespace: '/communication' })).socket;
  });
  afterAll(async () => {
    closeAll(root, comm);
  });

  it('exposes every metric of §11 with live values', async () => {
    await request(root, 'ping');
    await request(root, 'ping');
    await rawRequest(root, 'subscribe', { channel: 'org:elsewhere' }); // its own bucket
    const limited = await request(root, 'ping'); // third ping: over the per-event default bucket
    expect(!limited.ok && limited.error.type).toBe('RATE_LIMIT_EXCEEDED');
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    for (const name of [
      'realtime_connections',
      'realtime_events_total',
      'realtime_event_duration_seconds_bucket',
      'realtime_rate_limited_total',
      'realtime_alert_deliveries_total',
      'realtime_alert_acknowledgements_total',
      'realtime_database_up',
      'realtime_redis_configured',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toContain(`# TYPE ${name.replace(/_bucket$/, '')} `);
    }
    expect(text).toMatch(/realtime_connections\{namespace="\/"\} 1/);
    expect(text).toMatch(/realtime_connections\{namespace="\/communication"\} 1/);
    expect(text).toMatch(/realtime_events_total\{event="ping",outcome="ok"\} 2/);
    expect(text).toMatch(
      /realtime_events_total\{event="subscribe",outcome="AUTHORIZATION_FAILED"\} 1/,
    );
    expect(text).toMatch(/realtime_rate_limited_total\{scope="event",event="ping"\} 1/);
    expect(text).toMatch(/realtime_database_up 1/);
    // Without Redis there is no up/down to report: the gauge is absent (never -1).
    expect(text).toMatch(/^realtime_redis_configured 0$/m);
    expect(text).not.toMatch(/realtime_redis_up/);
  });

  it('counts HTTP requests by method, route template and status; sends no X-Powered-By', async () => {
    const health = await fetch(`${srv.url}/health`);
    expect(health.headers.get('x-powered-by')).toBeNull();
    await fetch(`${srv.url}/api/v1/alerts/alert-1`); // 401, no token
    await fetch(`${srv.url}/api/v1/alerts/alert-2`);
    const missing = await fetch(`${srv.url}/no/such/path/123`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-powered-by')).toBeNull();
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/health",status="200"\} [1-9]/m,
    );
    // One series for both ids: the route template, never the raw path.
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/api\/v1\/alerts\/:id",status="401"\} 2$/m,
    );
    expect(text).not.toContain('alert-1');
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\(unmatched\)",status="404"\} 1$/m,
    );
    expect(text).not.toContain('/no/such/path');
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="\/health"\} [1-9]/m,
    );
  });

  it('answers /health always and /ready 503 naming the database when it is down', async () => {
    expect(await (await fetch(`${srv.url}/health`)).json()).toEqual({ status: 'ok' });
    const ok = await fetch(`${srv.url}/ready`);
    expect(ok.status).toBe(200);
    await srv.database.close();
    const down = await fetch(`${srv.url}/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({
      status: 'unavailable',
      checks: { database: 'down', redis: 'disabled' },
    });
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    expect(await (await fetch(`${srv.url}/metrics`)).text()).toMatch(/realtime_database_up 0/);
  });
});

describe('/metrics with Redis configured', () => {
  it.skipIf(!hasRedis())(
    'reports realtime_redis_up 1 and realtime_redis_configured 1',
    async () => {
      const srv = await startServer({
        env: { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix('obs') },
      });
      try {
        const text = await (await fetch(`${srv.url}/metrics`)).text();
        expect(text).toMatch(/^realtime_redis_configured 1$/m);
        expect(text).toMatch(/^realtime_redis_up 1$/m);
      } finally {
        await srv.close();
      }
    },
  );
});
