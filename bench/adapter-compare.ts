/**
 * Compares the two Socket.IO Redis adapters on this machine, with the app's own Redis client
 * options and adapter wiring (src/redis): two Socket.IO servers ("nodes") on one private
 * redis-server, clients on both.
 *
 *   npm run build && node dist/bench/adapter-compare.js [--messages 5000]
 *
 * 1. cross-node latency: node A emits to a room, a client on node B receives (paced 500/s);
 * 2. throughput: A emits as fast as it can; time until the client on B has them all;
 * 3. Redis restart: A emits every 20 ms while Redis is stopped for 3 s and started again:
 *    does the node stay up, does LOCAL delivery on A keep flowing, how many cross-node
 *    messages are lost, how long after Redis returns until B receives again, CPU during the outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import { Server } from 'socket.io';
import { io as connectClient, type Socket } from 'socket.io-client';
import type { RedisConfig } from '../src/config/config.js';
import type { AppServer } from '../src/gateway/socket.types.js';
import { withDeliveryGuard } from '../src/gateway/engine/delivery-guard.js';
import { clusterAdapter } from '../src/redis/cluster-adapter.js';
import { RedisConnections } from '../src/redis/redis.connections.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MESSAGES = arg('messages', 5000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

interface Node {
  io: AppServer;
  url: string;
  connections: RedisConnections;
  close(): Promise<void>;
}

async function startNode(
  kind: 'pubsub' | 'streams',
  redisPort: number,
  failures: { n: number },
): Promise<Node> {
  const cfg: RedisConfig = {
    mode: 'single',
    shardedSubscriptionMode: 'dynamic',
    host: '127.0.0.1',
    port: redisPort,
    keyPrefix: 'bench:',
    adapter: kind,
    nodeTtlMs: 15000,
    commandTimeoutMs: 500,
  };
  const connections = new RedisConnections(cfg, { warn: () => undefined, info: () => undefined });
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] }) as unknown as AppServer;
  clusterAdapter(connections, () => failures.n++).install(io, withDeliveryGuard);
  io.on('connection', (s) => void s.join('room'));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as net.AddressInfo;
  await connections.waitReady(5000);
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      await io.close();
      await connections.close();
    },
  };
}

function client(url: string): Promise<Socket> {
  const s = connectClient(url, { transports: ['websocket'], forceNew: true });
  return new Promise((resolve) => s.once('connect', () => resolve(s)));
}

/** Untyped room emit: the bench sends its own event names, outside the app's event map. */
const emitRoom = (node: Node, event: string, payload?: unknown) =>
  (node.io.to('room').emit as unknown as (e: string, p?: unknown) => boolean)(event, payload);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

async function run(kind: 'pubsub' | 'streams') {
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const failures = { n: 0 };
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  const a = await startNode(kind, redisPort, failures);
  const b = await startNode(kind, redisPort, failures);
  const onB = await client(b.url);
  const onA = await client(a.url);
  // Let both adapters finish subscribing (the streams adapter starts reading at "$").
  for (let ok = false; !ok;) {
    const got = new Promise<boolean>((r) => {
      onB.once('warm', () => r(true));
      setTimeout(() => r(false), 200);
    });
    emitRoom(a, 'warm');
    ok = await got;
  }

  // 1. latency, paced
  const lat: number[] = [];
  onB.on('lat', (t: number) => lat.push(performance.now() - t));
  for (let i = 0; i < 1000; i++) {
    emitRoom(a, 'lat', performance.now());
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20));
  }
  while (lat.length < 1000) await new Promise((r) => setTimeout(r, 20));
  onB.off('lat');

  // 2. throughput
  let got = 0;
  const done = new Promise<void>((r) => onB.on('tp', () => ++got === MESSAGES && r()));
  const t0 = performance.now();
  for (let i = 0; i < MESSAGES; i++) emitRoom(a, 'tp', i);
  const sendMs = performance.now() - t0;
  await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))]);
  const tpMs = performance.now() - t0;
  onB.off('tp');

  // 3. Redis restart while A emits every 20 ms
  const receivedB: number[] = [];
  const receivedA: number[] = [];
  const recvAt = new Map<number, number>();
  onB.on('tick', (i: number) => (receivedB.push(i), recvAt.set(i, Date.now())));
  onA.on('tick', (i: number) => receivedA.push(i));
  let i = 0;
  const sentAt = new Map<number, number>();
  const ticker = setInterval(() => {
    sentAt.set(i, Date.now());
    emitRoom(a, 'tick', i++);
  }, 20);
  await new Promise((r) => setTimeout(r, 500));
  const cpu0 = process.cpuUsage();
  const down = Date.now();
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  const firstDuringOutage = i;
  await new Promise((r) => setTimeout(r, 3000));
  const cpuOutage = process.cpuUsage(cpu0);
  const localDuringOutage = receivedA.filter((x) => x >= firstDuringOutage).length;
  const sentDuringOutage = i - firstDuringOutage;
  redis = await startRedis(redisPort);
  const up = Date.now();
  // After Redis returns: first message SENT after `up` that B receives.
  let resumeMs = NaN;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const firstAfter = [...sentAt.entries()].find(([n, t]) => t >= up && recvAt.has(n));
    if (firstAfter) {
      resumeMs = recvAt.get(firstAfter[0])! - up;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(ticker);
  const lastDuringOutage = [...sentAt.entries()].filter(([, t]) => t < up).map(([n]) => n);
  const outageRange = lastDuringOutage.filter((n) => n >= firstDuringOutage);
  const lostCross = outageRange.filter((n) => !recvAt.has(n)).length;
  const lateCross = outageRange.filter((n) => recvAt.has(n)).length;
  const lostLocal = [...sentAt.keys()].filter((n) => !receivedA.includes(n)).length;

  onA.close();
  onB.close();
  await a.close();
  await b.close();
  redis.kill('SIGKILL');
  process.off('unhandledRejection', onUnhandled);
  return {
    adapter:
      kind === 'pubsub'
        ? '@socket.io/redis-adapter 8.3.0'
        : '@socket.io/redis-streams-adapter 0.3.1',
    latencyMs: { p50: r1(pct(lat, 50)), p99: r1(pct(lat, 99)), max: r1(Math.max(...lat)) },
    throughput: {
      messages: MESSAGES,
      received: got,
      msgPerSec: Math.round((got / tpMs) * 1000),
      emitLoopMs: Math.round(sendMs),
    },
    redisRestart: {
      outageMs: up - down,
      sentDuringOutage,
      localDeliveredDuringOutage: localDuringOutage,
      crossNodeLostDuringOutage: lostCross,
      crossNodeDeliveredLateAfterOutage: lateCross,
      localLostTotal: lostLocal,
      crossNodeResumeMsAfterRedisUp: resumeMs,
      cpuMsDuringOutage: Math.round((cpuOutage.user + cpuOutage.system) / 1000),
      publishFailuresSwallowed: failures.n,
      unhandledRejections: unhandled,
      processAlive: true,
    },
  };
}

const results = [];
for (const kind of ['pubsub', 'streams'] as const) results.push(await run(kind));
process.stdout.write(JSON.stringify(results, null, 2) + '\n');
process.exit(0);
