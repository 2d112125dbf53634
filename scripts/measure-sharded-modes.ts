/**
 * Chooses the sharded adapter's `subscriptionMode` by measurement (docs/scaling.md): three
 * Socket.IO servers wired exactly as the app wires them (src/redis/cluster-adapter.ts, cluster
 * mode) on a local Redis Cluster of their own (3 masters + 3 replicas), clients spread over them,
 * and the app's three kinds of emits:
 *   message-like  `to([conversation, user A, user B])`  (toConversation: several rooms)
 *   notify-like   `to(user)`                              (toUsers with one user: one room)
 *   typing-like   `to(conversation)`                      (one room)
 * For each mode and phase (connect + join, emits, disconnect): this process's CPU time (three
 * servers and the clients; the clients' share is the same in both modes) and, summed over every
 * Redis node, the commands (INFO commandstats) and the Redis CPU (INFO cpu). Wall time is noise
 * on a loaded machine and is not used.
 *
 *   npx tsx scripts/measure-sharded-modes.ts [--clients 60] [--emits 600]
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type net from 'node:net';
import { Server } from 'socket.io';
import { io as connectClient, type Socket } from 'socket.io-client';
import type { RedisConfig } from '../src/config/config.js';
import type { AppServer } from '../src/gateway/socket.types.js';
import { withDeliveryGuard } from '../src/gateway/engine/delivery-guard.js';
import { clusterAdapter } from '../src/redis/cluster-adapter.js';
import { RedisConnections } from '../src/redis/redis.connections.js';
import { startRedisCluster, type LocalRedisCluster } from './redis-cluster.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CLIENTS_PER_NODE = arg('clients', 60);
const EMITS = arg('emits', 600);
type Mode = 'static' | 'dynamic';

interface Node {
  io: AppServer;
  url: string;
  close(): Promise<void>;
}

async function startNode(seeds: string, mode: Mode, prefix: string): Promise<Node> {
  const cfg: RedisConfig = {
    mode: 'cluster',
    host: '127.0.0.1',
    port: 0,
    clusterNodes: seeds
      .split(',')
      .map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
    keyPrefix: prefix,
    adapter: 'sharded',
    shardedSubscriptionMode: mode,
    nodeTtlMs: 15000,
    commandTimeoutMs: 500,
  };
  const connections = new RedisConnections(cfg, { warn: () => undefined, info: () => undefined });
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] }) as unknown as AppServer;
  clusterAdapter(connections, () => undefined).install(io, withDeliveryGuard);
  io.on('connection', (s) => {
    const { user, conv } = s.handshake.query as { user: string; conv: string };
    void s.join([`user:o:${user}`, 'org:o', `conv:${conv}`]);
    (s.emit as unknown as (e: string) => boolean)('joined');
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  await connections.waitReady(10_000);
  return {
    io,
    url: `http://127.0.0.1:${(http.address() as net.AddressInfo).port}`,
    close: async () => {
      await io.close();
      await connections.close();
    },
  };
}

function redisAll(cluster: LocalRedisCluster, ...args: string[]): string[] {
  return cluster.nodes
    .filter((n) => n.alive)
    .map((n) => execFileSync('redis-cli', ['-p', String(n.port), ...args], { encoding: 'utf8' }));
}

interface RedisSample {
  calls: Record<string, number>;
  usec: number;
  cpuMs: number;
}

function sampleRedis(cluster: LocalRedisCluster): RedisSample {
  const calls: Record<string, number> = {};
  let usec = 0;
  for (const text of redisAll(cluster, 'info', 'commandstats')) {
    for (const m of text.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+),usec=(\d+)/g)) {
      calls[m[1]] = (calls[m[1]] ?? 0) + Number(m[2]);
      usec += Number(m[3]);
    }
  }
  let cpuMs = 0;
  for (const text of redisAll(cluster, 'info', 'cpu')) {
    for (const m of text.matchAll(/used_cpu_(?:sys|user):([\d.]+)/g)) cpuMs += Number(m[1]) * 1000;
  }
  return { calls, usec, cpuMs };
}

async function phase<T>(
  cluster: LocalRedisCluster,
  name: string,
  fn: () => Promise<T>,
): Promise<{
  name: string;
  cpuMs: number;
  redisCpuMs: number;
  redisUsec: number;
  calls: Record<string, number>;
}> {
  redisAll(cluster, 'config', 'resetstat');
  const before = sampleRedis(cluster);
  const cpu = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpu);
  const after = sampleRedis(cluster);
  // Commands of interest only (resetstat's own CONFIG/INFO calls are not counted).
  const calls = Object.fromEntries(
    Object.entries(after.calls).filter(([k]) =>
      /^(spublish|ssubscribe|sunsubscribe|pubsub)/.test(k),
    ),
  );
  return {
    name,
    cpuMs: Math.round((used.user + used.system) / 1000),
    redisCpuMs: Math.round(after.cpuMs - before.cpuMs),
    redisUsec: after.usec,
    calls,
  };
}

async function run(cluster: LocalRedisCluster, mode: Mode) {
  const prefix = `measure-${mode}:`;
  const nodes = await Promise.all([0, 1, 2].map(() => startNode(cluster.seeds, mode, prefix)));
  const clients: Socket[] = [];
  let received = 0;
  const results = [];
  const total = 3 * CLIENTS_PER_NODE;
  results.push(
    await phase(cluster, 'connect+join', async () => {
      await Promise.all(
        Array.from({ length: total }, (_, u) => {
          // Conversation u/2: users 2k and 2k+1, on different nodes.
          const s = connectClient(nodes[u % 3].url, {
            transports: ['websocket'],
            forceNew: true,
            query: { user: String(u), conv: String(Math.floor(u / 2)) },
          });
          s.onAny(() => received++);
          clients.push(s);
          return new Promise<void>((resolve) => s.once('joined', () => resolve()));
        }),
      );
      // Let dynamic subscriptions settle (they are sent after the join).
      await new Promise((r) => setTimeout(r, 500));
    }),
  );
  received = 0;
  results.push(
    await phase(cluster, `emits (${EMITS} of each kind)`, async () => {
      let expected = 0;
      for (let i = 0; i < EMITS; i++) {
        const a = (i * 2) % total;
        const conv = Math.floor(a / 2);
        const from = nodes[i % 3].io;
        const emit = (rooms: string | string[], ev: string) =>
          (from.to(rooms).emit as unknown as (e: string, p: unknown) => boolean)(ev, {
            i,
            text: 'x'.repeat(200),
          });
        emit([`conv:${conv}`, `user:o:${a}`, `user:o:${a + 1}`], 'message');
        emit(`user:o:${a}`, 'notify');
        emit(`conv:${conv}`, 'typing');
        expected += 2 + 1 + 2;
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
      }
      const deadline = Date.now() + 60_000;
      while (received < expected && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      if (received < expected) throw new Error(`${mode}: received ${received} of ${expected}`);
    }),
  );
  results.push(
    await phase(cluster, 'disconnect', async () => {
      for (const c of clients) c.close();
      await new Promise((r) => setTimeout(r, 1000));
    }),
  );
  await Promise.all(nodes.map((n) => n.close()));
  return results;
}

const cluster = await startRedisCluster();
try {
  // Two rounds, alternating: the first run of a process pays for JIT and module warm-up.
  for (const [round, mode] of [
    [1, 'static'],
    [1, 'dynamic'],
    [2, 'static'],
    [2, 'dynamic'],
  ] as const) {
    for (const r of await run(cluster, mode)) {
      process.stdout.write(
        `round ${round} ${mode.padEnd(8)} ${r.name.padEnd(26)} node CPU ${String(r.cpuMs).padStart(5)} ms | Redis CPU ${String(r.redisCpuMs).padStart(5)} ms, command usec ${String(r.redisUsec).padStart(7)} | ${JSON.stringify(r.calls)}\n`,
      );
    }
  }
} finally {
  await cluster.stop();
}
