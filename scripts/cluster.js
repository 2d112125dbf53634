#!/usr/bin/env node
/* global process, URL, setTimeout */
// Starts several nodes of the built server (dist/src/main.js) on consecutive ports against one
// Redis and one PostgreSQL, for trying the multi-node setup by hand. Ctrl-C stops them all.
//
//   npm run cluster -- --nodes 3 [--port 3000] [--redis redis://127.0.0.1:6379]
//                      [--database postgres://postgres@127.0.0.1:5432/wcr_cluster]
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
const redisUrl = option('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const databaseUrl = option(
  'database',
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/wcr_cluster',
);
const dataDir = resolve(process.env.DATA_DIR ?? './data');
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) {
  process.stderr.write('--nodes must be a whole number between 1 and 32\n');
  process.exit(1);
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

const children = [];
let stopping = false;
for (let i = 0; i < nodes; i++) {
  const port = basePort + i;
  const nodeId = `node-${i + 1}`;
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      NODE_ID: nodeId,
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      CORS_ORIGIN:
        process.env.CORS_ORIGIN ??
        Array.from({ length: nodes }, (_, k) => `http://localhost:${basePort + k}`).join(',') +
          ',http://localhost:5173',
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
      process.exit(1);
  });
  children.push(child);
  process.stdout.write(
    `${nodeId}: http://localhost:${port}  (ws path /socket.io, health /ready)\n`,
  );
}
process.stdout.write(
  `${nodes} node(s) on Redis ${new URL(redisUrl).host} and PostgreSQL ${new URL(databaseUrl).pathname.slice(1)}; Ctrl-C stops them.\n`,
);

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`stopping ${children.length} node(s)…\n`);
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, 15000);
  force.unref();
  Promise.all(
    children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))),
  ).then(() => process.exit(0));
  void signal;
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
