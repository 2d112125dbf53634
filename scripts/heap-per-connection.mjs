/* global process, fetch, setTimeout, TextEncoder, console */
// Measures V8 heap and RSS per idle authenticated connection of a built server (dist/).
// Usage: node scripts/heap-per-connection.mjs [connections=1000]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';

const N = Number(process.argv[2] ?? 1000);
const SECRET = 'heap-check-secret-0123456789-abcdefghijkl';
const PORT = 3900 + Math.floor(Math.random() * 90);
const url = `http://127.0.0.1:${PORT}`;
const server = spawn(process.execPath, ['--expose-gc', 'dist/src/main.js'], {
  env: {
    PATH: process.env.PATH,
    PORT: String(PORT),
    JWT_SECRET: SECRET,
    LOG_LEVEL: 'warn',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-heap-')),
    RATE_LIMITS: JSON.stringify({ 'handshake:ip': { maxTokens: 1000000, refillIntervalMs: 1 } }),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const metric = async (name) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      ?.split(' ')
      .pop(),
  );
};
for (let i = 0; i < 300; i++) {
  try {
    if ((await fetch(`${url}/health`)).ok) break;
  } catch {
    /* starting */
  }
  await new Promise((r) => setTimeout(r, 100));
}
const key = new TextEncoder().encode(SECRET);
const sockets = [];
const before = {
  heap: await metric('nodejs_heap_size_used_bytes'),
  rss: await metric('process_resident_memory_bytes'),
};
for (let i = 0; i < N; i += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, N - i) }, async (_, j) => {
      const token = await new SignJWT({ organizationId: `org-${(i + j) % 10}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`user-${i + j}`)
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
await new Promise((r) => setTimeout(r, 3000));
const after = {
  heap: await metric('nodejs_heap_size_used_bytes'),
  rss: await metric('process_resident_memory_bytes'),
};
console.log(
  JSON.stringify({
    connections: N,
    heapPerConnKiB: +((after.heap - before.heap) / N / 1024).toFixed(1),
    rssPerConnKiB: +((after.rss - before.rss) / N / 1024).toFixed(1),
  }),
);
for (const s of sockets) s.close();
server.kill('SIGKILL');
process.exit(0);
