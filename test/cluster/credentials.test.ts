import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, ok, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { freePort, spawnServer } from '../support/process.js';
import { connectReady } from '../support/realtime.js';
import {
  redisClusterTools,
  startRedisCluster,
  type LocalRedisCluster,
} from '../support/redis-cluster.js';
import { startServer, type TestServer } from '../support/server.js';
import { createTestDatabase, hasPostgres, redisPrefix } from '../support/services.js';

const USERNAME = 'realtime';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

/**
 * Issue 15: a password-protected Redis Cluster (requirepass, masterauth for the replicas, an ACL
 * user). Two nodes in cluster mode with REDIS_USERNAME/REDIS_PASSWORD: every client they open —
 * commands, the sharded adapter's per-master subscribers, presence events — authenticates, so a
 * message and presence cross nodes. A production start with a wrong or missing password is
 * refused with the reason (WRONGPASS, NOAUTH), never the password.
 */
describe.skipIf(!hasPostgres() || !redisClusterTools())(
  'Redis Cluster with credentials (REDIS_USERNAME / REDIS_PASSWORD)',
  () => {
    let redis: LocalRedisCluster | undefined;
    let nodes: TestServer[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    const open: TestSocket[] = [];

    beforeAll(async () => {
      const [cluster, db] = await Promise.all([
        startRedisCluster({ password: PASSWORD, username: USERNAME }),
        createTestDatabase('credentials'),
      ]);
      redis = cluster;
      dropDb = db.drop;
      const env = {
        REDIS_CLUSTER_NODES: cluster.seeds,
        REDIS_USERNAME: USERNAME,
        REDIS_PASSWORD: PASSWORD,
        REDIS_KEY_PREFIX: redisPrefix('cred'),
        LOG_LEVEL: 'info',
      };
      // One after the other: the first one migrates the database.
      nodes.push(await startServer({ env, databaseUrl: db.url }));
      nodes.push(await startServer({ env, databaseUrl: db.url }));
    }, 120_000);
    afterAll(async () => {
      closeAll(...open);
      await Promise.all(nodes.map((n) => n.close()));
      nodes = [];
      await dropDb?.();
      await redis?.stop();
    });

    it('the cluster refuses a client without the password', async () => {
      const { Cluster } = await import('ioredis');
      const [host, port] = redis!.seeds.split(',')[0].split(':');
      const anonymous = new Cluster([{ host, port: Number(port) }], {
        clusterRetryStrategy: () => null,
        enableOfflineQueue: true,
      });
      const errors: string[] = [];
      anonymous.on('error', () => undefined);
      anonymous.on('node error', (e: Error) => errors.push(e.message.split(' ')[0]));
      await expect(anonymous.ping()).rejects.toThrow();
      anonymous.disconnect();
      expect(errors).toContain('NOAUTH');
    });

    it('two nodes: a message and presence cross nodes through the protected cluster', async () => {
      for (const node of nodes) {
        expect(node.config.redis).toMatchObject({ mode: 'cluster', username: USERNAME });
        const ready = await http<{ checks: { redis: string } }>(node.url, 'GET', '/ready');
        expect(ready.body.checks.redis).toBe('up');
      }
      const org = `cred-${Date.now().toString(36)}`;
      const alice = await connectReady(nodes[0].url, { userId: 'alice', organizationId: org }, [
        'presence:changed',
        'message:new',
      ]);
      open.push(alice.socket);
      const bob = await connectReady(nodes[1].url, { userId: 'bob', organizationId: org }, [
        'conversation:new',
        'message:new',
      ]);
      open.push(bob.socket);
      // Presence: bob's connect on node 2 reaches alice on node 1; node 2 sees alice online.
      await alice.recorder.until((r) =>
        r.of('presence:changed').some((p) => p.userId === 'bob' && p.status === 'online'),
      );
      const q = await ok(bob.socket, 'presence:query', { userIds: ['alice', 'bob'] });
      expect(q.users.map((u) => [u.userId, u.status])).toEqual([
        ['alice', 'online'],
        ['bob', 'online'],
      ]);
      // A message sent on node 1 reaches the participant on node 2 (sharded adapter).
      const { conversation } = await ok(alice.socket, 'conversation:create', {
        participantIds: ['bob'],
      });
      await bob.recorder.until((r) =>
        r.of('conversation:new').some((e) => e.conversation.id === conversation.id),
      );
      const { message } = await ok(alice.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content: 'through a protected cluster',
      });
      await bob.recorder.until(
        (r) => r.of('message:new').some((e) => e.message.id === message.id),
        5000,
        'message:new on node 2',
      );
      bob.socket.close();
      await alice.recorder.until((r) =>
        r.of('presence:changed').some((p) => p.userId === 'bob' && p.status === 'offline'),
      );
      for (const node of nodes) expect(node.logs.join('\n')).not.toContain(PASSWORD);
    });

    it('production: a wrong or missing password is refused at start with the reason, never the password', async () => {
      const refused = async (credentials: Record<string, string>) => {
        const sp = spawnServer({
          NODE_ENV: 'production',
          DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-cred-')),
          PORT: String(await freePort()),
          JWT_SECRET: 'x'.repeat(40),
          CORS_ORIGIN: 'https://nurse.example.org',
          DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
          REDIS_CLUSTER_NODES: redis!.seeds,
          ...credentials,
        });
        const timer = setTimeout(() => sp.proc.kill('SIGKILL'), 30_000);
        const code = await sp.exited;
        clearTimeout(timer);
        const lines = sp.stderr.filter((l) => l.trim().length > 0);
        return { code, lines, all: [...sp.stdout, ...sp.stderr].join('\n') };
      };
      const wrongPassword = `${PASSWORD}-wrong`;
      const [wrong, missing] = await Promise.all([
        refused({ REDIS_USERNAME: USERNAME, REDIS_PASSWORD: wrongPassword }),
        refused({}),
      ]);
      for (const r of [wrong, missing]) {
        expect(r.code).toBe(1);
        expect(r.lines).toHaveLength(1);
        expect(r.lines[0]).toContain('REDIS_CLUSTER_NODES');
        expect(r.all).not.toContain(PASSWORD);
      }
      expect(wrong.lines[0]).toContain('refused the credentials');
      expect(wrong.lines[0]).toContain('WRONGPASS');
      expect(missing.lines[0]).toContain('NOAUTH');
    }, 60_000);
  },
);
