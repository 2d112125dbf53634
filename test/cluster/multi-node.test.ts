import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { expect, it } from 'vitest';
import { ok } from '../support/client.js';
import { describeMultiNode } from '../support/multi-node-suite.js';
import { redisClusterTools, startRedisCluster } from '../support/redis-cluster.js';
import { hasPostgres } from '../support/services.js';

/**
 * Issue 15: the cross-node suite (support/multi-node-suite.ts) in cluster mode
 * (REDIS_CLUSTER_NODES) on a Redis Cluster of the test's own (3 masters + 3 replicas). Every
 * behaviour that crosses nodes goes through the cluster: the sharded adapter (messages, typing,
 * alerts and their fetchSockets), presence scripts, shared rate-limit buckets, connection slots
 * and the revocation bus. Two tests of its own check the mode and where the keys live.
 */
let clusterSeeds: string | undefined;
const seeds = (): string => {
  if (!clusterSeeds) throw new Error('the Redis Cluster has not started');
  return clusterSeeds;
};
const [A, B] = [0, 1];

describeMultiNode(
  'three nodes on a Redis Cluster (sharded adapter)',
  !hasPostgres() || !redisClusterTools(),
  {
    start: async () => {
      const cluster = await startRedisCluster();
      clusterSeeds = cluster.seeds;
      return { env: { REDIS_CLUSTER_NODES: cluster.seeds }, stop: () => cluster.stop() };
    },
  },
  (ctx) => {
    it('runs in cluster mode with the sharded adapter', () => {
      for (const node of ctx.nodes) {
        expect(node.config.redis?.mode).toBe('cluster');
        expect(node.config.redis?.adapter).toBe('sharded');
      }
    });

    it('every coordination key of the deployment lives in one slot; nothing else carries the tag', async () => {
      // A live session (presence, connection slot) and a message (rate-limit bucket) right now.
      const org = ctx.id('keys');
      const holder = await ctx.ready(A, { userId: 'holder', organizationId: org });
      await ctx.ready(B, { userId: 'peer', organizationId: org });
      const { conversation } = await ok(holder.socket, 'conversation:create', {
        participantIds: ['peer'],
      });
      await ok(holder.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content: 'bucket',
      });
      const client = new Cluster(
        seeds()
          .split(',')
          .map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
      );
      client.on('error', () => undefined);
      try {
        await new Promise((resolve) => client.once('ready', resolve));
        const keys: string[] = [];
        for (const master of client.nodes('master')) {
          let cursor = '0';
          do {
            const [next, batch] = await master.scan(
              cursor,
              'MATCH',
              `${ctx.prefix}*`,
              'COUNT',
              1000,
            );
            keys.push(...batch);
            cursor = next;
          } while (cursor !== '0');
        }
        const tag = `${ctx.prefix}{${ctx.prefix}}`;
        const coordination = keys.filter((k) => k.startsWith(tag));
        expect(coordination).toContain(`${tag}nodes`);
        expect(coordination.some((k) => k.startsWith(`${tag}presence:`))).toBe(true);
        expect(coordination.some((k) => k.startsWith(`${tag}conn:`))).toBe(true);
        const slots = new Set(
          await Promise.all(coordination.map((k) => client.cluster('KEYSLOT', k))),
        );
        expect(slots.size).toBe(1);
        // Rate-limit buckets: a tag per user (`{<org>:<user>}`), so a user's buckets share one
        // slot (a reset is one command) and users spread over the shards.
        const buckets = keys.filter((k) => !k.startsWith(tag));
        expect(buckets.every((k) => k.startsWith(`${ctx.prefix}rl:`))).toBe(true);
        const holderBuckets = buckets.filter((k) =>
          k.startsWith(`${ctx.prefix}rl:user:{${org}:holder}:`),
        );
        expect(holderBuckets.map((k) => k.split('}:')[1]).sort()).toEqual(
          expect.arrayContaining(['conversation:create', 'handshake:user', 'message:send']),
        );
        const holderSlots = new Set(
          await Promise.all(holderBuckets.map((k) => client.cluster('KEYSLOT', k))),
        );
        expect(holderSlots.size).toBe(1);
        const peerSlot = await client.cluster('KEYSLOT', `${ctx.prefix}rl:user:{${org}:peer}:x`);
        expect(await client.cluster('KEYSLOT', `${ctx.prefix}rl:user:{${org}:peer}:y`)).toBe(
          peerSlot,
        );
      } finally {
        client.disconnect();
      }
    });
  },
);
