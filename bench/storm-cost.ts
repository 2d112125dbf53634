/**
 * What one handshake of a connect storm costs the server, with a fixed amount of work per socket,
 * for before/after comparisons on a noisy machine (scenario 6 sends messages *during* its storm,
 * so how much each socket replays varies from run to run):
 *   node dist/bench/storm-cost.js [--sockets=400] [--messages=20] [--runs=2] [--profile] [--ours-only]
 * Before the storm a member sends `--messages` messages to each conversation (400 members each)
 * and raises an emergency alert, so on our server every socket replays the same messages and the
 * alert; half the sockets are parents (§12.5). Reports per confirmed socket: server CPU (user +
 * system, /proc) from the start of the storm until the last confirmation and until the server
 * went quiet (presence fan-out and replays done), and the statements our server sent to
 * PostgreSQL in that time (bench/lib/sql-counter.ts). `--profile` runs our server under
 * `node --cpu-prof` (bench/results/profiles/) and prints the storm's window for profile-summary.
 * CPU time moves with the machine's load: compare runs taken one after the other, several each.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/protocol/events.js';
import { closeLoaders, startLoaders, stormWarmUp } from './lib/loaders.js';
import { cpuSeconds } from './lib/proc.js';
import { postgresAvailable, ROOT, startServer, type RunningServer } from './lib/servers.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const PER_CONVERSATION = 400;
const PER_LOADER = 2500;
const wallNow = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return fallback;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
}

const secret = randomBytes(36).toString('base64url');

function sign(userId: string, organizationId: string, role: string): Promise<string> {
  return new SignJWT({ organizationId, role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

async function call(socket: ClientSocket, event: string, payload: unknown): Promise<unknown> {
  const emit = socket.timeout(30_000).emitWithAck.bind(socket.timeout(30_000)) as unknown as (
    e: string,
    p: unknown,
  ) => Promise<{ ok: boolean; data?: unknown; error?: { type: string } }>;
  const res = await emit(event, payload);
  if (!res.ok) throw new Error(`${event}: ${res.error?.type}`);
  return res.data;
}

interface Cost {
  cpuUsToConfirm: number;
  cpuUsToQuiet: number;
  sqlPerSocket: number | null;
  confirmLastMs: number;
  window: string;
}

async function measure(
  server: RunningServer,
  n: number,
  messages: number,
  tag: string,
): Promise<Cost> {
  const org = `oc${tag}`;
  const userIds = Array.from({ length: n }, (_, i) => `c${tag}u${i}`);
  const sender: ClientSocket = io(server.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { token: await sign(`c${tag}sender`, org, 'staff') },
  });
  const loaders = startLoaders(Math.ceil(n / PER_LOADER));
  try {
    await new Promise<void>((resolve, reject) => {
      sender.once('connection:confirmed', () => resolve());
      sender.once('connect_error', reject);
    });
    const conversations: string[] = [];
    for (let i = 0; i < n; i += PER_CONVERSATION) {
      const data = (await call(sender, 'conversation:create', {
        participantIds: userIds.slice(i, i + PER_CONVERSATION),
      })) as { conversation: { id: string } };
      conversations.push(data.conversation.id);
    }
    for (const conversationId of conversations)
      for (let k = 0; k < messages; k++)
        await call(sender, 'message:send', {
          messageId: randomUUID(),
          conversationId,
          content: `before the storm ${k}`,
        });
    const service = await sign(`c${tag}svc`, `svc${tag}`, 'service');
    const res = await fetch(`${server.url}/api/v1/alerts/emergency`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
      body: JSON.stringify({ organizationId: org, title: 'Drill', message: 'Before the storm' }),
    });
    if (res.status !== 202) throw new Error(`alert answered ${res.status}`);
    await res.body?.cancel();
    await stormWarmUp(loaders[0], server.url, secret, tag);
    await sleep(500);
    const per = Math.ceil(n / loaders.length);
    const users = userIds.map((userId, i) => ({
      userId,
      organizationId: org,
      role: i % 2 === 0 ? 'parent' : 'staff',
      conversationId: conversations[Math.floor(i / PER_CONVERSATION)],
    }));
    const startAt = wallNow() + 1500;
    await sleep(1400);
    const sql0 = server.sqlCount?.();
    const cpu0 = cpuSeconds(server.pid);
    const results = await Promise.all(
      loaders.map((l, li) =>
        l.request('storm:connect', {
          target: server.url,
          secret,
          users: users.slice(li * per, (li + 1) * per),
          startAt,
          deadlineMs: 180_000,
        }),
      ),
    );
    const cpuConfirm = cpuSeconds(server.pid) - cpu0;
    const connected = results.reduce((s, r) => s + r.connected, 0);
    if (connected < n) throw new Error(`only ${connected} of ${n} confirmed`);
    const lastAt = Math.max(...results.map((r) => r.lastAt));
    // Quiet: the server used under 2 % of a core over 500 ms.
    let prev = cpuSeconds(server.pid);
    for (let i = 0; i < 240; i++) {
      await sleep(500);
      const now = cpuSeconds(server.pid);
      if (now - prev < 0.01) break;
      prev = now;
    }
    const cpuQuiet = prev - cpu0;
    await sleep(250);
    const sql1 = server.sqlCount?.();
    return {
      cpuUsToConfirm: Math.round((cpuConfirm * 1e6) / connected),
      cpuUsToQuiet: Math.round((cpuQuiet * 1e6) / connected),
      sqlPerSocket:
        sql0 !== undefined && sql1 !== undefined
          ? Math.round(((sql1 - sql0) / connected) * 100) / 100
          : null,
      confirmLastMs: Math.round(lastAt - startAt),
      window: `--skip=${((startAt - server.spawnedAt) / 1000).toFixed(1)} --until=${((lastAt - server.spawnedAt) / 1000 + 1).toFixed(1)}`,
    };
  } finally {
    sender.disconnect();
    await closeLoaders(loaders);
  }
}

async function main(): Promise<void> {
  const n = Number(arg('sockets', '400'));
  const messages = Number(arg('messages', '20'));
  const runs = Number(arg('runs', '2'));
  const profile = arg('profile', 'false') === 'true';
  const oursOnly = arg('ours-only', 'false') === 'true';
  const hasPostgres = await postgresAvailable();
  const cpuProfDir = profile ? join(ROOT, 'bench', 'results', 'profiles') : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const kinds = oursOnly ? (['ours'] as const) : (['bare', 'ours'] as const);
  for (let run = 1; run <= runs; run++)
    for (const kind of kinds) {
      const server = await startServer({
        kind,
        db: kind === 'bare' ? 'none' : hasPostgres ? 'postgres' : 'embedded',
        secret,
        label: `cost${kind}`,
        env: { WS_MAX_CONNECTIONS_PER_USER: '10' },
        countSql: true,
        ...(kind === 'ours' && cpuProfDir ? { cpuProfDir } : {}),
      });
      try {
        const c = await measure(
          server,
          n,
          messages,
          `${Date.now().toString(36).slice(-4)}${kind[0]}`,
        );
        process.stdout.write(
          `${kind.padEnd(4)} run ${run}: ${n} sockets, CPU/handshake ${c.cpuUsToConfirm} µs to the last confirmation, ${c.cpuUsToQuiet} µs to quiet; SQL/socket ${c.sqlPerSocket ?? '—'}; last confirmed after ${c.confirmLastMs} ms; profile window ${c.window}\n`,
        );
      } finally {
        await server.stop();
      }
    }
}

main().catch((err: unknown) => {
  process.stderr.write(`storm-cost failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
