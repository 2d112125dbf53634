import { describe, expect, it } from 'vitest';
import { ok } from './support/client.js';
import { http } from './support/http.js';
import { describeMultiNode } from './support/multi-node-suite.js';
import { connectReady } from './support/realtime.js';
import { startServer } from './support/server.js';
import { hasPostgres, hasRedis, redisPrefix, REDIS_TEST_URL } from './support/services.js';
import { signToken } from './support/tokens.js';
import { eventually } from './support/wait.js';

/** The cross-node suite (support/multi-node-suite.ts) on one Redis, the default deployment. */
describeMultiNode('three nodes on one Redis and one PostgreSQL', !hasRedis() || !hasPostgres(), {
  start: () =>
    Promise.resolve({ env: { REDIS_URL: REDIS_TEST_URL }, stop: () => Promise.resolve() }),
});

describe.skipIf(!hasRedis())('REDIS_ADAPTER=streams (kept for comparison) also joins nodes', () => {
  it(
    'a channel publish on one node reaches a subscriber on the other',
    { timeout: 60_000 },
    async () => {
      const env = {
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: redisPrefix('streams'),
        REDIS_ADAPTER: 'streams',
        LOG_LEVEL: 'info',
      };
      const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
      try {
        const org = `st-${Date.now().toString(36)}`;
        const sub = await connectReady(b.url, { userId: 'sub', organizationId: org }, [
          'channel:message',
        ]);
        await ok(sub.socket, 'subscribe', { channel: `org:${org}:news` });
        const service = await signToken({ userId: 'svc', organizationId: org, role: 'service' });
        // The streams adapter reads from "$" once its reader is up: publish until the first one arrives.
        await eventually(
          async () => {
            await http(a.url, 'POST', '/api/v1/channels/publish', {
              token: service,
              body: { channel: `org:${org}:news`, event: 'e', data: {} },
            });
            await sub.recorder
              .until((r) => r.of('channel:message').length > 0, 300)
              .catch(() => undefined);
            return sub.recorder.of('channel:message').length > 0;
          },
          5000,
          'a channel:message through the streams adapter',
        );
        expect(sub.recorder.of('channel:message')[0]).toMatchObject({
          channel: `org:${org}:news`,
          event: 'e',
        });
        sub.socket.close();
      } finally {
        const t0 = Date.now();
        await Promise.all([a.close(), b.close()]);
        expect(Date.now() - t0).toBeLessThan(5000);
      }
    },
  );
});
