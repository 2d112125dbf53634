import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { REDIS_TEST_URL } from './services.js';

/**
 * Clients of the shared test Redis for one test file, each quit after the file's tests: call at
 * the top level of the file, then call what it returns for every client the tests need.
 */
export function useRedisClients(url = REDIS_TEST_URL): () => Redis {
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  });
  return () => {
    const r = new Redis(url);
    r.on('error', () => undefined);
    clients.push(r);
    return r;
  };
}
