/* global process, fetch, setTimeout, TextEncoder, console */
// Measures V8 heap and RSS per idle authenticated connection of a built server (dist/).
// Usage: node scripts/heap-per-connection.mjs [connections=1000] [--bare] [--postgres]
//   --bare      the bare Socket.IO baseline (dist/bench/baseline-server.js) instead of ours
//   --postgres  ours on a fresh PostgreSQL database (127.0.0.1:5432, as the benchmark runs it)
//               instead of the embedded one
// Like scenario 3 of the benchmark: one user per socket, organizations of 100 users, a
// 200-connection warm-up first. Both readings are taken after full garbage collections (through
// the inspector), so the figures are what each connection retains, not when V8 last collected.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 1000);
const bare = args.includes('--bare');
const postgres = !bare && args.includes('--postgres');
const ORG_SIZE = 100;
const SECRET = 'heap-check-secret-0123456789-abcdefghijkl';
const PORT = 3900 + Math.floor(Math.random() * 90);
const INSPECT_PORT = PORT + 1000;
const url = `http://127.0.0.1:${PORT}`;
const dataDir = mkdtempSync(join(tmpdir(), 'wcr-heap-'));
const env = {
  PATH: process.env.PATH,
  PORT: String(PORT),
  HOST: '127.0.0.1',
  JWT_SECRET: SECRET,
  LOG_LEVEL: 'warn',
  RATE_LIMITS: JSON.stringify({ 'handshake:ip': { maxTokens: 1000000, refillIntervalMs: 1 } }),
  WS_MAX_CONNECTIONS_PER_USER: '10',
};
const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `wcr_heap_${Date.now().toString(36)}`;
if (postgres) {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${dbName}`);
  await c.end();
  env.DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${dbName}`;
} else if (!bare) {
  env.DATA_DIR = dataDir;
}
const server = spawn(
  process.execPath,
  [
    `--inspect=127.0.0.1:${INSPECT_PORT}`,
    bare ? 'dist/bench/baseline-server.js' : 'dist/src/main.js',
  ],
  { env, stdio: ['ignore', 'ignore', 'pipe'] },
);
server.stderr.on('data', (d) => {
  const text = d.toString();
  if (!/Debugger|inspector|For help/.test(text)) process.stderr.write(text);
});
for (let i = 0; i < 600; i++) {
  try {
    if ((await fetch(`${url}/health`)).ok) break;
  } catch {
    /* starting */
  }
  await new Promise((r) => setTimeout(r, 100));
}

// The inspector: full GCs and process.memoryUsage() of the server.
const [target] = await (await fetch(`http://127.0.0.1:${INSPECT_PORT}/json/list`)).json();
const inspector = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => inspector.once('open', r));
let nextId = 1;
const pending = new Map();
inspector.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  pending.get(msg.id)?.(msg.result);
  pending.delete(msg.id);
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    inspector.send(JSON.stringify({ id, method, params }));
  });
const measure = async () => {
  for (let i = 0; i < 3; i++) {
    await call('HeapProfiler.collectGarbage');
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = await call('Runtime.evaluate', {
    expression: 'process.memoryUsage().heapUsed',
    returnByValue: true,
  });
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return { heap: r.result.value, rss: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024 };
};

const key = new TextEncoder().encode(SECRET);
const sockets = [];
const connect = async (tag, count) => {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
        const k = i + j;
        const token = await new SignJWT({ organizationId: `o${tag}${Math.floor(k / ORG_SIZE)}` })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(`${tag}${k}`)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(key);
        const s = io(url, {
          auth: { token },
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
        });
        sockets.push(s);
        await new Promise((res, rej) => {
          s.once('connection:confirmed', res);
          s.once('connect_error', rej);
        });
      }),
    );
  }
};
await connect('w', 200);
await new Promise((r) => setTimeout(r, 2000));
const before = await measure();
await connect('i', N);
await new Promise((r) => setTimeout(r, 3000));
const after = await measure();
console.log(
  JSON.stringify({
    server: bare ? 'bare' : postgres ? 'ours (PostgreSQL)' : 'ours (embedded)',
    connections: N,
    heapPerConnKiB: +((after.heap - before.heap) / N / 1024).toFixed(1),
    rssPerConnKiB: +((after.rss - before.rss) / N / 1024).toFixed(1),
  }),
);
for (const s of sockets) s.close();
inspector.close();
server.kill('SIGKILL');
rmSync(dataDir, { recursive: true, force: true });
if (postgres) {
  await new Promise((r) => setTimeout(r, 500));
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await c.end();
}
process.exit(0);
