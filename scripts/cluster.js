#!/usr/bin/env node
/* global process, URL, fetch, setTimeout, setInterval */
// Starts several nodes of the built server (dist/src/main.js) on consecutive ports against one
// Redis and one PostgreSQL, for trying the multi-node setup by hand. Ctrl-C stops them all.
//
//   npm run cluster -- --nodes 3 [--port 3000] [--redis redis://127.0.0.1:6379]
//                      [--database postgres://postgres@127.0.0.1:5432/wcr_cluster]
//                      [--lb [--lb-port 8080] [--lb-stats-port 8404]]
//                      [--redis-cluster [--redis-cluster-masters 3] [--redis-cluster-replicas 0]]
//
// Redis: one Redis (--redis, else REDIS_URL, else redis://127.0.0.1:6379), or a Redis Cluster:
// --redis-cluster starts a local one (scripts/redis-cluster.ts, in its own process group, on
// free ports in a temp directory) and stops it after the nodes; REDIS_CLUSTER_NODES in the
// environment uses an existing one. Either way the nodes get REDIS_CLUSTER_NODES and
// REDIS_ADAPTER=sharded, and no REDIS_URL/REDIS_HOST.
//
// --lb puts HAProxy (deploy/haproxy.cfg, rendered with these ports) in front of the nodes: one
// URL for clients, WebSocket upgrade, cookie stickiness for long-polling, health checks on
// /ready. Nodes then trust X-Forwarded-For from loopback (TRUST_PROXY) and accept the
// balancer's origin. Ctrl-C or SIGTERM stops the nodes, then HAProxy (and the Redis Cluster).
//
// Every node gets the same JWT secret (./data/jwt-secret, the one `npx wcr-token` uses), the
// same REDIS_KEY_PREFIX and its own NODE_ID. The database is created if it does not exist;
// the nodes migrate it themselves (one at a time, under an advisory lock).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';

function option(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const nodes = Number(option('nodes', '3'));
const basePort = Number(option('port', '3000'));
const startCluster = process.argv.includes('--redis-cluster');
const clusterMasters = Number(option('redis-cluster-masters', '3'));
const clusterReplicas = Number(option('redis-cluster-replicas', '0'));
const envSeeds = process.env.REDIS_CLUSTER_NODES;
const redisUrl = option('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const databaseUrl = option(
  'database',
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wcr_cluster',
);
const dataDir = resolve(process.env.DATA_DIR ?? './data');
const lb = process.argv.includes('--lb');
const lbPort = Number(option('lb-port', '8080'));
const lbStatsPort = Number(option('lb-stats-port', '8404'));
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) {
  process.stderr.write('--nodes must be a whole number between 1 and 32\n');
  process.exit(1);
}

const redisModes = [
  startCluster && '--redis-cluster',
  envSeeds && 'REDIS_CLUSTER_NODES',
  (option('redis') !== undefined || process.env.REDIS_URL || process.env.REDIS_HOST) &&
    (option('redis') !== undefined
      ? '--redis'
      : process.env.REDIS_URL
        ? 'REDIS_URL'
        : 'REDIS_HOST'),
].filter(Boolean);
if (redisModes.length > 1) {
  process.stderr.write(`choose one Redis, not ${redisModes.join(' and ')}\n`);
  process.exit(1);
}
if (
  startCluster &&
  (!Number.isInteger(clusterMasters) ||
    clusterMasters < 3 ||
    !Number.isInteger(clusterReplicas) ||
    clusterReplicas < 0)
) {
  process.stderr.write('--redis-cluster-masters must be ≥ 3, --redis-cluster-replicas ≥ 0\n');
  process.exit(1);
}

/**
 * Starts a local Redis Cluster with the built scripts/redis-cluster.js in its own process group
 * (Ctrl-C reaches the nodes, which drain with Redis still up; the cluster is stopped after them)
 * and resolves with the process and its seeds.
 */
function startRedisCluster() {
  const proc = spawn(
    process.execPath,
    [
      'dist/scripts/redis-cluster.js',
      '--masters',
      String(clusterMasters),
      '--replicas',
      String(clusterReplicas),
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk.toString('utf8');
      const m = /REDIS_CLUSTER_NODES=(\S+)/.exec(out);
      if (m) resolvePromise({ proc, seeds: m[1] });
    });
    proc.stderr.on('data', (chunk) => (err += chunk.toString('utf8')));
    proc.on('exit', (code, signal) =>
      reject(new Error(`redis cluster exited (${signal ?? code}) before it was up: ${err.trim()}`)),
    );
  });
}

/** SIGTERM to the cluster starter (it kills its redis-servers and removes its directory). */
function stopRedisCluster() {
  const p = redisCluster?.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  return exited;
}

async function ensureDatabase(url) {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  if (!/^[a-z0-9_]+$/i.test(name)) throw new Error(`database name "${name}" must be [a-z0-9_]`);
  u.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: u.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

function ensureSecret() {
  if (process.env.JWT_SECRET) return;
  const file = join(dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(48).toString('base64url') + '\n', { mode: 0o600 });
  }
  readFileSync(file);
}

await ensureDatabase(databaseUrl);
ensureSecret();

let redisCluster;
if (startCluster) {
  process.stdout.write(
    `starting a Redis Cluster (${clusterMasters} masters, ${clusterReplicas} replica(s) each)…\n`,
  );
  try {
    redisCluster = await startRedisCluster();
  } catch (err) {
    process.stderr.write(`[redis-cluster] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `Redis Cluster: REDIS_CLUSTER_NODES=${redisCluster.seeds} (pid ${redisCluster.proc.pid})\n`,
  );
}
const seeds = redisCluster?.seeds ?? envSeeds;
// Cluster mode: seeds and the sharded adapter, and no single-Redis variable (the nodes refuse a
// mix of both).
const redisEnv = seeds
  ? { REDIS_CLUSTER_NODES: seeds, REDIS_ADAPTER: 'sharded' }
  : { REDIS_URL: redisUrl };
const baseEnv = { ...process.env };
if (seeds) {
  delete baseEnv.REDIS_URL;
  delete baseEnv.REDIS_HOST;
}

const children = [];
let stopping = false;
for (let i = 0; i < nodes; i++) {
  const port = basePort + i;
  const nodeId = `node-${i + 1}`;
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...baseEnv,
      PORT: String(port),
      NODE_ID: nodeId,
      ...redisEnv,
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      CORS_ORIGIN:
        process.env.CORS_ORIGIN ??
        Array.from({ length: nodes }, (_, k) => `http://localhost:${basePort + k}`).join(',') +
          (lb ? `,http://localhost:${lbPort},http://127.0.0.1:${lbPort}` : '') +
          ',http://localhost:5173',
      // Behind the balancer every connection comes from loopback: believe its X-Forwarded-For.
      ...(lb && !process.env.TRUST_PROXY ? { TRUST_PROXY: 'loopback' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tag = `[${nodeId}] `;
  const forward = (stream, out) => {
    let buf = '';
    stream.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) if (line) out.write(tag + line + '\n');
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    process.stderr.write(`${tag}exited (${signal ?? code})\n`);
    if (!stopping && children.every((c) => c.exitCode !== null || c.signalCode !== null))
      void Promise.resolve(haproxy?.stop())
        .then(() => stopRedisCluster())
        .finally(() => process.exit(1));
  });
  children.push(child);
  process.stdout.write(
    `${nodeId}: http://localhost:${port}  pid ${child.pid}  (ws path /socket.io, health /ready)\n`,
  );
}

let haproxy;
if (lb) {
  // Built from scripts/haproxy.ts by `npm run build` (which `npm run cluster` runs first).
  const { haproxyAvailable, startHaproxy } = await import('../dist/scripts/haproxy.js');
  if (!haproxyAvailable()) {
    process.stderr.write(
      '--lb needs HAProxy: apt-get install haproxy (Debian/Ubuntu) or brew install haproxy\n',
    );
    stopAll();
  } else {
    // Nodes first: a balancer started before them would mark them all DOWN and take `rise`
    // checks to bring them back.
    const deadline = Date.now() + 120_000;
    for (let i = 0; i < nodes && !stopping && Date.now() < deadline;) {
      const ok = await fetch(`http://127.0.0.1:${basePort + i}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) i++;
      else await new Promise((r) => setTimeout(r, 200));
    }
    try {
      haproxy = await startHaproxy({
        // Its own process group: Ctrl-C reaches the nodes (they drain), HAProxy is stopped after.
        detached: true,
        host: '127.0.0.1',
        port: lbPort,
        statsPort: lbStatsPort,
        servers: children.map((_, i) => ({
          name: `node-${i + 1}`,
          host: '127.0.0.1',
          port: basePort + i,
        })),
      });
    } catch (err) {
      process.stderr.write(`[haproxy] ${err instanceof Error ? err.message : String(err)}\n`);
      stopAll();
    }
    if (stopping && haproxy) {
      // Ctrl-C came while HAProxy was starting.
      await haproxy.stop();
      haproxy = undefined;
    }
  }
  if (haproxy) {
    // The access log and server state changes, prefixed like the nodes' lines (access-log lines
    // carry no query strings: no token can reach them). Its stderr repeats the state changes.
    let shown = 0;
    const pump = setInterval(() => {
      for (; shown < haproxy.log.length; shown++)
        process.stdout.write(`[haproxy] ${haproxy.log[shown]}\n`);
    }, 200);
    pump.unref();
    haproxy.proc.on('exit', (code, signal) => {
      process.stderr.write(`[haproxy] exited (${signal ?? code})\n`);
      if (!stopping) stopAll();
    });
    process.stdout.write(
      `HAProxy: http://localhost:${lbPort} → ${nodes} node(s) (cookie-sticky polling, health /ready; ` +
        `status page http://localhost:${lbStatsPort}/, runtime API: echo "show stat" | socat stdio unix:${haproxy.configPath.replace(/haproxy\.cfg$/, 'admin.sock')})\n` +
        `  remove a node gracefully: kill -TERM <its pid> (it drains, /ready answers 503, HAProxy takes it out)\n`,
    );
  }
}
process.stdout.write(
  `${nodes} node(s) on ${seeds ? `Redis Cluster ${seeds}` : `Redis ${new URL(redisUrl).host}`} and PostgreSQL ${new URL(databaseUrl).pathname.slice(1)}; Ctrl-C stops ${lb ? 'HAProxy and ' : ''}them${redisCluster ? ', then the Redis Cluster' : ''}.\n`,
);

function stopAll() {
  if (stopping) return;
  stopping = true;
  process.stdout.write(
    `stopping ${haproxy ? 'HAProxy and ' : ''}${children.length} node(s)${redisCluster ? ' and the Redis Cluster' : ''}…\n`,
  );
  // The nodes first (they drain and disconnect their clients), HAProxy and the Redis Cluster
  // once they are gone.
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, 15000);
  force.unref();
  Promise.all(
    children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))),
  )
    .then(() => haproxy?.stop())
    .then(() => stopRedisCluster())
    .then(() => process.exit(0));
}
process.on('SIGINT', () => stopAll());
process.on('SIGTERM', () => stopAll());
