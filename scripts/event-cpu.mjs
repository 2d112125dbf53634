#!/usr/bin/env node
/**
 * Server CPU per client event, for before/after comparisons of the event pipeline on a loaded
 * machine (CPU time, not wall-clock): `node scripts/event-cpu.mjs [--event=message:send|ping]
 * [--n=6000] [--rounds=3]` after `npm run build`. Starts our server (dist/, or the tree in
 * BENCH_SERVER_ROOT) on a PostgreSQL database of its own, connects 10 senders and 10 receivers
 * (one conversation each), sends --n events per round in a closed loop (8 in flight per sender)
 * and prints the server process's CPU µs per event of each round (/proc/<pid>/stat) and the
 * median. PostgreSQL's own CPU is not counted: this measures our process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import process from 'node:process';
import { TextEncoder } from 'node:util';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { startServer } from '../dist/bench/lib/servers.js';
import { cpuSeconds } from '../dist/bench/lib/proc.js';

const arg = (name, dflt) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
const EVENT = arg('event', 'message:send');
const N = Number(arg('n', 6000));
const ROUNDS = Number(arg('rounds', 3));
const PAIRS = 10;
const WINDOW = 8;

const secret = randomBytes(36).toString('base64url');
const org = `org-${randomBytes(4).toString('hex')}`;
const token = (userId) =>
  new SignJWT({ organizationId: org, role: 'staff' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));

function connect(url, userId) {
  return token(userId).then(
    (t) =>
      new Promise((resolve, reject) => {
        const s = io(url, {
          auth: { token: t },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
        });
        s.once('connection:confirmed', () => resolve(s));
        s.once('connect_error', reject);
      }),
  );
}

const call = (s, event, payload) =>
  new Promise((resolve, reject) =>
    s
      .timeout(30_000)
      .emit(event, ...(payload === undefined ? [] : [payload]), (err, res) =>
        err ? reject(err) : res.ok ? resolve(res.data) : reject(new Error(res.error.type)),
      ),
  );

const server = await startServer({ kind: 'ours', db: 'postgres', secret, label: 'eventcpu' });
const sockets = [];
try {
  const pairs = [];
  for (let i = 0; i < PAIRS; i++) {
    const a = await connect(server.url, `s${i}`);
    const b = await connect(server.url, `r${i}`);
    sockets.push(a, b);
    const { conversation } = await call(a, 'conversation:create', { participantIds: [`r${i}`] });
    pairs.push({ sender: a, conversationId: conversation.id });
  }
  const payload = (p) =>
    EVENT === 'message:send'
      ? {
          messageId: randomUUID(),
          conversationId: p.conversationId,
          content: 'dose check 0123456789',
        }
      : undefined;
  const run = async (count) => {
    const per = Math.ceil(count / PAIRS);
    await Promise.all(
      pairs.map(async (p) => {
        let sent = 0;
        const lane = async () => {
          while (sent < per) {
            sent++;
            await call(p.sender, EVENT, payload(p));
          }
        };
        await Promise.all(Array.from({ length: WINDOW }, lane));
      }),
    );
    return per * PAIRS;
  };
  await run(Math.min(N, 2000)); // warm-up: JIT, caches, plans
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = cpuSeconds(server.pid);
    const n = await run(N);
    results.push(((cpuSeconds(server.pid) - before) * 1e6) / n);
  }
  const sorted = [...results].sort((x, y) => x - y);
  process.stdout.write(
    JSON.stringify({
      event: EVENT,
      perRound: N,
      cpuUsPerEvent: results.map((x) => Math.round(x)),
      median: Math.round(sorted[Math.floor(sorted.length / 2)]),
    }) + '\n',
  );
} finally {
  for (const s of sockets) s.close();
  await server.stop();
}
