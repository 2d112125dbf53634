/**
 * Capacity measurements for docs/capacity.md: what one handshake, one presence change, one chat
 * message, one emergency alert and one disconnect cost in Redis (commands and bytes, from
 * `INFO commandstats` / `INFO stats` deltas), in PostgreSQL (statements from pg_stat_statements,
 * WAL bytes, table growth) and in CPU (both nodes, redis-server, every PostgreSQL process).
 *
 *   npm run capacity [-- --users=200 --messages=1000 --alerts=3 --nodes=2]
 *
 * Everything runs against a redis-server and a PostgreSQL (initdb, shared_preload_libraries =
 * pg_stat_statements) this script starts on free ports in a temporary directory and kills at the
 * end — never the shared services. `--nodes` nodes of ours (`dist/src/main.js`); clients connect
 * directly, alternating nodes, so cross-node fan-out is included. Costs are per operation, so they
 * hold on a loaded machine (the CPU figures less so than the counts). The idle cost (heartbeats,
 * the revocation re-read) is measured first and subtracted from every phase.
 *
 * Writes bench/results/capacity-<date>.json and prints a table.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/protocol/events.js';
import { cpuSeconds } from './lib/proc.js';
import { freePort, ROOT, startServer, type RunningServer } from './lib/servers.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

function arg(name: string, def: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : def;
}
const USERS = arg('users', 200);
const MESSAGES = arg('messages', 1000);
const ALERTS = arg('alerts', 3);
const NODES = arg('nodes', 2);
const IDLE_MS = 5000;
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, pred: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await sleep(20);
  }
}

// ---- services of our own --------------------------------------------------------------------

async function waitPort(port: number, proc: ChildProcess, what: string): Promise<void> {
  await until(what, 30_000, async () => {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    return new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  });
}

async function startRedis(): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitPort(port, proc, 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid!,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGKILL');
        await once(proc, 'exit');
      }
    },
  };
}

async function startPostgres(): Promise<{
  port: number;
  pid: number;
  url: (db: string) => string;
  stop: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'wcr-capacity-pg-'));
  // PostgreSQL refuses to run as root: run it as `postgres` then.
  const user =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
          gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
        }
      : {};
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
  execFileSync('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8'], {
    ...user,
    stdio: 'ignore',
  });
  const port = await freePort();
  // Durable settings as in production (fsync, synchronous_commit on): WAL volume is measured.
  const proc = spawn(
    'postgres',
    [
      '-D',
      join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'pg_stat_statements.track=top',
      '-c',
      'max_connections=100',
    ],
    { ...user, stdio: 'ignore' },
  );
  await waitPort(port, proc, 'postgres');
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  await until('postgres accepts queries', 30_000, async () => {
    const c = new pg.Client({ connectionString: url('postgres') });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  });
  return {
    port,
    pid: proc.pid!,
    url,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGQUIT');
        await once(proc, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The postmaster and every process it forked (backends, WAL writer, checkpointer…). */
function postgresPids(postmaster: number): number[] {
  const out = [postmaster];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

// ---- snapshots -------------------------------------------------------------------------------

interface Snapshot {
  at: number;
  redisCalls: Record<string, number>;
  redisCommands: number;
  redisIn: number;
  redisOut: number;
  pg: Map<string, { query: string; calls: number; rows: number; walBytes: number }>;
  walLsnBytes: number;
  tables: Record<string, number>;
  cpu: { nodes: number; redis: number; postgres: number };
}

class Meter {
  constructor(
    private readonly redisUrl: string,
    private readonly admin: pg.Client,
    private readonly app: pg.Client,
    private readonly dbOid: number,
    private readonly pids: { nodes: number[]; redis: number; postmaster: number },
  ) {}

  private async redisInfo(section: string): Promise<string> {
    const u = new URL(this.redisUrl);
    return execFileSync('redis-cli', ['-h', u.hostname, '-p', u.port, 'INFO', section]).toString();
  }

  async snapshot(): Promise<Snapshot> {
    const cmd = await this.redisInfo('commandstats');
    const stats = await this.redisInfo('stats');
    const redisCalls: Record<string, number> = {};
    for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) redisCalls[m[1]] = Number(m[2]);
    const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(stats)?.[1] ?? NaN);
    const rows = await this.admin.query<{
      queryid: string;
      query: string;
      calls: string;
      rows: string;
      wal_bytes: string;
    }>(
      'SELECT queryid::text, query, calls, rows, wal_bytes::bigint::text AS wal_bytes FROM pg_stat_statements WHERE dbid = $1',
      [this.dbOid],
    );
    const pgm = new Map<string, { query: string; calls: number; rows: number; walBytes: number }>();
    for (const r of rows.rows)
      if (!/pg_total_relation_size|pg_stat_statements|pg_current_wal/.test(r.query))
        pgm.set(r.queryid, {
          query: r.query,
          calls: Number(r.calls),
          rows: Number(r.rows),
          walBytes: Number(r.wal_bytes),
        });
    const lsn = await this.admin.query<{ b: string }>(
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint::text AS b",
    );
    const sizes = await this.app.query<{ t: string; b: string }>(
      `SELECT c.relname AS t, pg_total_relation_size(c.oid)::text AS b FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'`,
    );
    const sum = (pids: number[]) => pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
    return {
      at: Date.now(),
      redisCalls,
      redisCommands: num('total_commands_processed'),
      redisIn: num('total_net_input_bytes'),
      redisOut: num('total_net_output_bytes'),
      pg: pgm,
      walLsnBytes: Number(lsn.rows[0].b),
      tables: Object.fromEntries(sizes.rows.map((r) => [r.t, Number(r.b)])),
      cpu: {
        nodes: sum(this.pids.nodes),
        redis: cpuSeconds(this.pids.redis),
        postgres: sum(postgresPids(this.pids.postmaster)),
      },
    };
  }
}

interface Delta {
  seconds: number;
  redisCalls: Record<string, number>;
  redisCommands: number;
  redisIn: number;
  redisOut: number;
  pgStatements: Array<{ query: string; calls: number; rows: number; walBytes: number }>;
  pgCalls: number;
  walBytes: number;
  tables: Record<string, number>;
  cpu: { nodes: number; redis: number; postgres: number };
}

function delta(a: Snapshot, b: Snapshot): Delta {
  const redisCalls: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.redisCalls)) {
    const d = v - (a.redisCalls[k] ?? 0);
    if (d > 0) redisCalls[k] = d;
  }
  const pgStatements: Delta['pgStatements'] = [];
  for (const [id, v] of b.pg) {
    const before = a.pg.get(id);
    const calls = v.calls - (before?.calls ?? 0);
    if (calls > 0)
      pgStatements.push({
        query: v.query.replace(/\s+/g, ' ').slice(0, 120),
        calls,
        rows: v.rows - (before?.rows ?? 0),
        walBytes: v.walBytes - (before?.walBytes ?? 0),
      });
  }
  pgStatements.sort((x, y) => y.calls - x.calls);
  const tables: Record<string, number> = {};
  for (const [t, s] of Object.entries(b.tables)) {
    const d = s - (a.tables[t] ?? 0);
    if (d !== 0) tables[t] = d;
  }
  return {
    seconds: (b.at - a.at) / 1000,
    redisCalls,
    redisCommands: b.redisCommands - a.redisCommands,
    redisIn: b.redisIn - a.redisIn,
    redisOut: b.redisOut - a.redisOut,
    pgStatements,
    pgCalls: pgStatements.reduce((s, x) => s + x.calls, 0),
    walBytes: b.walLsnBytes - a.walLsnBytes,
    tables,
    cpu: {
      nodes: b.cpu.nodes - a.cpu.nodes,
      redis: b.cpu.redis - a.cpu.redis,
      postgres: b.cpu.postgres - a.cpu.postgres,
    },
  };
}

/** A phase's delta minus what the idle cluster does in the same time, divided by `ops`. */
function perOp(d: Delta, idle: Delta, ops: number) {
  const k = d.seconds / idle.seconds;
  const net = (x: number, idleX: number) => Math.max(0, x - idleX * k) / ops;
  const redisCalls: Record<string, number> = {};
  for (const [c, v] of Object.entries(d.redisCalls)) {
    const n = net(v, idle.redisCalls[c] ?? 0);
    if (n >= 0.005) redisCalls[c] = Math.round(n * 100) / 100;
  }
  const idleCalls = new Map(idle.pgStatements.map((s) => [s.query, s.calls]));
  const pgStatements = d.pgStatements
    .map((s) => ({ ...s, perOp: net(s.calls, idleCalls.get(s.query) ?? 0) }))
    .filter((s) => s.perOp >= 0.005)
    .map((s) => ({
      query: s.query,
      perOp: Math.round(s.perOp * 100) / 100,
      rowsPerOp: Math.round((s.rows / ops) * 100) / 100,
    }));
  return {
    ops,
    seconds: d.seconds,
    redisCommands: Math.round(net(d.redisCommands, idle.redisCommands) * 100) / 100,
    redisCalls,
    redisBytesIn: Math.round(net(d.redisIn, idle.redisIn)),
    redisBytesOut: Math.round(net(d.redisOut, idle.redisOut)),
    pgStatements: Math.round(net(d.pgCalls, idle.pgCalls) * 100) / 100,
    pgDetail: pgStatements,
    walBytes: Math.round(net(d.walBytes, idle.walBytes)),
    tableBytes: Object.fromEntries(
      Object.entries(d.tables).map(([t, b]) => [t, Math.round(b / ops)]),
    ),
    cpuUs: {
      nodes: Math.round(net(d.cpu.nodes, idle.cpu.nodes) * 1e6),
      redis: Math.round(net(d.cpu.redis, idle.cpu.redis) * 1e6),
      postgres: Math.round(net(d.cpu.postgres, idle.cpu.postgres) * 1e6),
    },
  };
}

// ---- the run -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const secret = randomBytes(36).toString('base64url');
  const sign = (sub: string, organizationId: string, role: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ organizationId, role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(secret));
  };
  const cleanups: Array<() => Promise<void>> = [];
  const clients: Client[] = [];
  try {
    log('starting redis-server and PostgreSQL (pg_stat_statements) of our own…');
    const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
    cleanups.push(redis.stop, postgres.stop);
    const admin = new pg.Client({ connectionString: postgres.url('postgres') });
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query('CREATE EXTENSION pg_stat_statements');
    await admin.query('CREATE DATABASE wcr_capacity');
    const oid = Number(
      (
        await admin.query<{ oid: number }>(
          "SELECT oid FROM pg_database WHERE datname = 'wcr_capacity'",
        )
      ).rows[0].oid,
    );
    const servers: RunningServer[] = [];
    for (let i = 0; i < NODES; i++) {
      log(`starting node ${i + 1}…`);
      const s = await startServer({
        kind: 'ours',
        db: 'postgres',
        databaseUrl: postgres.url('wcr_capacity'),
        secret,
        label: `capacity${i}`,
        env: {
          REDIS_URL: redis.url,
          REDIS_KEY_PREFIX: 'wcr:',
          NODE_ID: `node-${i + 1}`,
          // startServer sets limits high enough for the bursts below; every event still runs
          // its rate-limit script, so that Redis cost is counted. The production socket cap:
          WS_MAX_CONNECTIONS_PER_USER: '10',
        },
      });
      servers.push(s);
      cleanups.push(s.stop);
    }
    const app = new pg.Client({ connectionString: postgres.url('wcr_capacity') });
    await app.connect();
    cleanups.push(() => app.end());
    const meter = new Meter(redis.url, admin, app, oid, {
      nodes: servers.map((s) => s.pid),
      redis: redis.pid,
      postmaster: postgres.pid,
    });

    // 0. idle: what two nodes cost with nobody connected.
    log(`idle ${IDLE_MS / 1000} s…`);
    await sleep(2000);
    let a = await meter.snapshot();
    await sleep(IDLE_MS);
    let b = await meter.snapshot();
    const idle = delta(a, b);

    const org = `cap-${randomBytes(3).toString('hex')}`;
    const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
    const tokens = await Promise.all(users.map((u) => sign(u, org, 'staff')));
    const got = { messages: 0, alerts: 0, presence: 0 };

    // 1. handshakes: every user connects once, alternating nodes, 10 at a time.
    log(`${USERS} handshakes…`);
    a = await meter.snapshot();
    for (let i = 0; i < USERS; i += 10) {
      await Promise.all(
        users.slice(i, i + 10).map(
          (_, j) =>
            new Promise<void>((resolve, reject) => {
              const k = i + j;
              const c: Client = io(servers[k % NODES].url, {
                transports: ['websocket'],
                reconnection: false,
                forceNew: true,
                auth: { token: tokens[k] },
              });
              c.on('message:new', () => got.messages++);
              c.on('alert:emergency', () => got.alerts++);
              c.on('presence:changed', () => got.presence++);
              c.once('connection:confirmed', () => resolve());
              c.once('connect_error', (e) => reject(e));
              clients[k] = c;
            }),
        ),
      );
    }
    await sleep(500); // presence announcements of the last ones
    b = await meter.snapshot();
    const handshake = perOp(delta(a, b), idle, USERS);
    const presenceDeliveriesPerHandshake = got.presence / USERS;

    const ack = <T>(c: Client, event: string, payload: unknown): Promise<T> =>
      new Promise((resolve, reject) => {
        (c.emit as (...x: unknown[]) => void)(
          event,
          payload,
          (res: { ok: boolean; data?: T; error?: { type: string } }) =>
            res.ok ? resolve(res.data as T) : reject(new Error(`${event}: ${res.error?.type}`)),
        );
      });

    // 2. presence changes: every user away, then online again (2 visible changes each).
    log(`${USERS * 2} presence changes…`);
    got.presence = 0;
    a = await meter.snapshot();
    for (const status of ['away', 'online']) {
      for (let i = 0; i < USERS; i += 20)
        await Promise.all(
          clients.slice(i, i + 20).map((c) => ack(c, 'presence:update', { status })),
        );
    }
    await until('presence deliveries', 30_000, () => got.presence >= USERS * 2 * (USERS - 1));
    b = await meter.snapshot();
    const presence = perOp(delta(a, b), idle, USERS * 2);

    // 3. messages: 10 conversations of 10 members (members on both nodes), one sender each,
    // sequential sends (each waits for its ack).
    const convs: Array<{ id: string; sender: Client }> = [];
    for (let c = 0; c < 10; c++) {
      const members = Array.from({ length: 10 }, (_, m) => (c * 10 + m) % USERS);
      const { conversation } = await ack<{ conversation: { id: string } }>(
        clients[members[0]],
        'conversation:create',
        { participantIds: members.slice(1).map((m) => users[m]) },
      );
      convs.push({ id: conversation.id, sender: clients[members[1]] });
    }
    await sleep(300);
    log(`${MESSAGES} messages…`);
    got.messages = 0;
    a = await meter.snapshot();
    const content = 'capacity '.padEnd(120, 'lorem ipsum dolor sit amet ');
    await Promise.all(
      convs.map(async ({ id, sender }) => {
        for (let n = 0; n < MESSAGES / convs.length; n++)
          await ack(sender, 'message:send', {
            messageId: randomUUID(),
            conversationId: id,
            content,
          });
      }),
    );
    await until('message deliveries', 30_000, () => got.messages >= MESSAGES * 10);
    b = await meter.snapshot();
    const message = perOp(delta(a, b), idle, MESSAGES);

    // 4. emergency alerts to the whole organization (every user connected).
    log(`${ALERTS} emergency alerts to ${USERS} users…`);
    const service = await sign('capacity-service', org, 'service');
    got.alerts = 0;
    a = await meter.snapshot();
    for (let n = 0; n < ALERTS; n++) {
      const res = await fetch(`${servers[0].url}/api/v1/alerts/emergency`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
        body: JSON.stringify({ organizationId: org, title: 'Drill', message: 'Capacity drill' }),
      });
      if (res.status !== 202) throw new Error(`alert answered ${res.status}`);
      await res.json();
      await until('alert deliveries', 30_000, () => got.alerts >= USERS * (n + 1));
    }
    await sleep(300);
    b = await meter.snapshot();
    const alert = perOp(delta(a, b), idle, ALERTS);

    // 5. disconnects: every socket closes (last session → offline, slot released).
    log(`${USERS} disconnects…`);
    a = await meter.snapshot();
    for (const c of clients) c.disconnect();
    const gauge = async (s: RunningServer) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      return Number(/realtime_connections\{namespace="\/"\} (\d+)/.exec(text)?.[1] ?? NaN);
    };
    await until('sockets gone', 30_000, async () =>
      (await Promise.all(servers.map(gauge))).every((n) => n === 0),
    );
    await sleep(1000);
    b = await meter.snapshot();
    const disconnect = perOp(delta(a, b), idle, USERS);

    // Nothing subtracted (an infinitely long reference), per node and second.
    const idlePerNodeSecond = perOp(idle, { ...idle, seconds: Infinity }, NODES * idle.seconds);
    const result = {
      startedAt: new Date(a.at).toISOString(),
      users: USERS,
      messages: MESSAGES,
      alerts: ALERTS,
      nodes: NODES,
      notes: [
        `per operation, idle background subtracted; ${NODES} nodes, clients alternate nodes`,
        `handshake: staff users of one organization of ${USERS}: each first session is announced to everyone online (${presenceDeliveriesPerHandshake.toFixed(1)} presence:changed deliveries per handshake on average)`,
        'message: conversations of 10 members, 120-character content, sequential sends',
        `alert: emergency to the whole organization, ${USERS} connected users (per alert; divide by ${USERS} for per recipient)`,
      ],
      idlePerNodeSecond,
      handshake,
      presence,
      message,
      alert,
      disconnect,
    };
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `capacity-${NODES}nodes-${result.startedAt.slice(0, 10)}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    const rows = (
      [
        ['idle (per node per s)', idlePerNodeSecond],
        ['handshake', handshake],
        ['presence change', presence],
        ['message (10 members)', message],
        [`emergency alert (${USERS} recipients)`, alert],
        ['disconnect', disconnect],
      ] as const
    ).map(([name, p]) =>
      [
        name,
        p.redisCommands,
        p.redisBytesIn,
        p.redisBytesOut,
        p.pgStatements,
        p.walBytes,
        Object.values(p.tableBytes).reduce((s, x) => s + x, 0),
        p.cpuUs.nodes,
        p.cpuUs.redis,
        p.cpuUs.postgres,
      ].join(' | '),
    );
    process.stdout.write(
      [
        '| operation | Redis commands | Redis bytes in | Redis bytes out | PG statements | WAL bytes | table growth (bytes) | node CPU µs | Redis CPU µs | PG CPU µs |',
        '|---|---|---|---|---|---|---|---|---|---|',
        ...rows.map((r) => `| ${r} |`),
        '',
        `details (commands by name, statements by text): ${file}`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const c of clients) c?.close();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`capacity failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
