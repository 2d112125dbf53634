import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { closeAll, ok, connect, request, type TestSocket } from './client.js';
import type { ServerEventName } from '../../src/protocol/events.js';
import { OwnPostgres } from './postgres-server.js';
import { startServerProcess, type ServerProcess } from './process.js';
import { OwnRedis } from './redis-server.js';
import { redisPrefix } from './services.js';
import { signToken, TEST_JWT_SECRET } from './tokens.js';

/**
 * WS_MAX_CONNECTIONS_PER_USER of the test clusters that fill a user's cap across nodes (the
 * multi-node suite, the fault cluster): one definition, so their tests agree on it.
 */
export const CAP = 3;

/**
 * A cluster for fault tests: N nodes (`node dist/src/main.js`, default three) on a redis-server
 * and a PostgreSQL of the test's own, so the test can pause (SIGSTOP), kill and restart them —
 * never the shared ones. Small TTLs keep the faults short.
 */
export interface Cluster {
  redis: OwnRedis;
  postgres: OwnPostgres;
  databaseUrl: string;
  nodes: ServerProcess[];
  env: Record<string, string>;
  /** A pg client on the cluster's database (for the ledger check). */
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  env?: Record<string, string>;
}

export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const services = await Promise.allSettled([OwnRedis.start(), OwnPostgres.start()]);
  const [redisStart, postgresStart] = services;
  const nodes: ServerProcess[] = [];
  let pool: pg.Pool | undefined;
  // Whatever started is stopped again when a later step fails: a failed start leaks no process.
  const teardown = async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    if (redisStart.status === 'fulfilled') {
      redisStart.value.resume();
      await redisStart.value.down();
    }
    await pool?.end().catch(() => undefined);
    if (postgresStart.status === 'fulfilled') await postgresStart.value.destroy();
  };
  try {
    if (redisStart.status === 'rejected') throw redisStart.reason;
    if (postgresStart.status === 'rejected') throw postgresStart.reason;
    const redis = redisStart.value;
    const postgres = postgresStart.value;
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE wcr_faults');
    await admin.end();
    const databaseUrl = postgres.urlFor('wcr_faults');
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redisPrefix('faults'),
      REDIS_NODE_TTL_MS: '3000',
      LOG_LEVEL: 'info',
      RATE_LIMITS: JSON.stringify({
        'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
        'message:send': { maxTokens: 100000, refillIntervalMs: 1 },
        'conversation:join': { maxTokens: 100000, refillIntervalMs: 1 },
        default: { maxTokens: 100000, refillIntervalMs: 1 },
      }),
      ...o.env,
    };
    // The first node migrates; the others start together.
    nodes.push(await startServerProcess({ ...env, NODE_ID: 'node-1' }));
    const rest = await Promise.allSettled(
      Array.from({ length: (o.nodes ?? 3) - 1 }, (_, i) =>
        startServerProcess({ ...env, NODE_ID: `node-${i + 2}` }),
      ),
    );
    for (const r of rest) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const queries = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool = queries;
    queries.on('error', () => undefined);
    return {
      redis,
      postgres,
      databaseUrl,
      nodes,
      env,
      query: async <T extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
        (await queries.query<T>(text, values)).rows,
      close: teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** A suite's cluster (`useCluster`): the cluster's fields, and the sockets to close after it. */
export interface ClusterFixture extends Cluster {
  /** Sockets the suite opened; closed before the cluster stops. */
  open: TestSocket[];
}

/**
 * One cluster per suite: started in `beforeAll` (options may be computed there, e.g. from a Redis
 * Cluster the suite started first), its sockets closed and every process stopped in `afterAll`.
 * The fields read the running cluster; reading them before it started throws.
 */
export function useCluster(
  options: ClusterOptions | (() => ClusterOptions | Promise<ClusterOptions>) = {},
): ClusterFixture {
  let cluster: Cluster | undefined;
  const open: TestSocket[] = [];
  beforeAll(async () => {
    cluster = await startCluster(typeof options === 'function' ? await options() : options);
  }, 120_000);
  afterAll(async () => {
    closeAll(...open);
    await cluster?.close();
  });
  const running = (): Cluster => {
    if (!cluster) throw new Error('useCluster: the suite has not started its cluster');
    return cluster;
  };
  return {
    open,
    get redis() {
      return running().redis;
    },
    get postgres() {
      return running().postgres;
    },
    get databaseUrl() {
      return running().databaseUrl;
    },
    get nodes() {
      return running().nodes;
    },
    get env() {
      return running().env;
    },
    query: (text, values) => running().query(text, values),
    close: () => running().close(),
  };
}

export { eventually } from './wait.js';

/** Lines a node wrote that show a crash (they must never appear). */
export const crashLines = (p: ServerProcess): string[] =>
  [...p.stdout, ...p.stderr].filter((l) =>
    /unhandled rejection|uncaught|FATAL|Failed to start/i.test(l),
  );

/** Every node still runs and none wrote a crash line (the end of a fault test). */
export function expectRunningWithoutCrash(nodes: readonly ServerProcess[]): void {
  for (const n of nodes) {
    expect(n.proc.exitCode).toBeNull();
    expect(crashLines(n)).toEqual([]);
  }
}

export interface SendOutcome {
  messageId: string;
  sentAt: number;
  answeredAt?: number;
  /** `ack` with the stored seq, `error` with its type, `none` when no answer came (a failure). */
  result: { kind: 'ack'; seq: number } | { kind: 'error'; type: string } | { kind: 'none' };
}

/**
 * The acked-message ledger: every send of every sender with its outcome. An acknowledged
 * message (`ack`) must be stored exactly once with the acknowledged seq; a send answered with an
 * error object may or may not have been stored (never twice); a send never answered is a bug.
 */
export class Ledger {
  readonly sends: SendOutcome[] = [];

  get acked(): Array<SendOutcome & { result: { kind: 'ack'; seq: number } }> {
    return this.sends.filter(
      (s): s is SendOutcome & { result: { kind: 'ack'; seq: number } } => s.result.kind === 'ack',
    );
  }

  get unanswered(): SendOutcome[] {
    return this.sends.filter((s) => s.result.kind === 'none');
  }

  errors(type?: string): SendOutcome[] {
    return this.sends.filter(
      (s) => s.result.kind === 'error' && (type === undefined || s.result.type === type),
    );
  }

  /** Acks answered in [from, to]. */
  ackedBetween(from: number, to: number): number {
    return this.acked.filter((s) => s.answeredAt! >= from && s.answeredAt! <= to).length;
  }

  /** The longest time without any ack, between `from` and `to` (ms). */
  longestAckGap(from: number, to: number): number {
    const times = this.acked
      .map((s) => s.answeredAt!)
      .filter((t) => t >= from && t <= to)
      .sort((a, b) => a - b);
    let prev = from;
    let gap = 0;
    for (const t of [...times, to]) {
      gap = Math.max(gap, t - prev);
      prev = t;
    }
    return gap;
  }
}

/**
 * A user sending into one conversation as fast as acks come back (`concurrency` sends in flight),
 * recording every outcome in the ledger, until `stop()`. Sends time out after `ackTimeoutMs`, or
 * end when the socket disconnects, recorded as `none` unless an answer came.
 */
export class Sender {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    readonly socket: TestSocket,
    readonly conversationId: string,
    readonly ledger: Ledger,
    private readonly o: { concurrency?: number; ackTimeoutMs?: number; pauseMs?: number } = {},
  ) {}

  /** Sends without an answer yet: settled as unanswered when the socket disconnects. */
  private readonly pending = new Set<() => void>();

  start(): void {
    this.socket.on('disconnect', () => {
      for (const settle of [...this.pending]) settle();
    });
    this.running = true;
    this.loops = Array.from({ length: this.o.concurrency ?? 2 }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.socket.connected) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      await this.sendOne();
      if (this.o.pauseMs) await new Promise((r) => setTimeout(r, this.o.pauseMs));
    }
  }

  /** One send, recorded; resolves when it was answered or timed out. */
  sendOne(): Promise<SendOutcome> {
    const outcome: SendOutcome = {
      messageId: randomUUID(),
      sentAt: Date.now(),
      result: { kind: 'none' },
    };
    this.ledger.sends.push(outcome);
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(settle);
        resolve(outcome);
      };
      const timer = setTimeout(settle, this.o.ackTimeoutMs ?? 10_000);
      this.pending.add(settle);
      this.socket.emit(
        'message:send',
        { messageId: outcome.messageId, conversationId: this.conversationId, content: 'ledger' },
        (res) => {
          this.pending.delete(settle);
          clearTimeout(timer);
          outcome.answeredAt = Date.now();
          outcome.result = res.ok
            ? { kind: 'ack', seq: res.data.message.seq }
            : { kind: 'error', type: res.error.type };
          resolve(outcome);
        },
      );
    });
  }
}

/** Connects a user to a node (real JWT), resolving after `connection:confirmed`. */
export async function member(
  url: string,
  userId: string,
  organizationId: string,
  record: ServerEventName[] = [],
  namespace: '/' | '/communication' = '/',
): Promise<Awaited<ReturnType<typeof connect>> & { token: string }> {
  const token = await signToken({ userId, organizationId, role: 'staff' });
  const c = await connect(url, token, { record, namespace });
  return { ...c, token };
}

/**
 * The ledger check: every acknowledged message is in the database exactly once with the
 * acknowledged seq; the conversation's seqs are gapless 1..n; and its history read through a
 * socket (`conversation:join` with `afterSeq`, page by page) has every acknowledged message
 * exactly once. Returns the stored count.
 */
export async function checkLedger(
  cluster: Cluster,
  reader: TestSocket,
  conversationId: string,
  ledger: Ledger,
): Promise<{ stored: number; acked: number }> {
  const rows = await cluster.query<{ id: string; seq: number }>(
    'SELECT id, seq FROM messages WHERE conversation_id = $1 ORDER BY seq',
    [conversationId],
  );
  const problems: string[] = [];
  const byId = new Map<string, number[]>();
  for (const r of rows) byId.set(r.id, [...(byId.get(r.id) ?? []), Number(r.seq)]);
  rows.forEach((r, i) => {
    if (Number(r.seq) !== i + 1) problems.push(`seq gap or duplicate at ${i + 1}: ${r.seq}`);
  });
  for (const s of ledger.acked) {
    const seqs = byId.get(s.messageId) ?? [];
    if (seqs.length !== 1 || seqs[0] !== s.result.seq)
      problems.push(`acked ${s.messageId} seq ${s.result.seq} stored as [${seqs.join(',')}]`);
  }
  for (const s of ledger.errors()) {
    if ((byId.get(s.messageId) ?? []).length > 1) problems.push(`${s.messageId} stored twice`);
  }
  // History through the API, from the start, page by page.
  const seen = new Map<string, number>();
  let after = 0;
  for (;;) {
    const page = await ok(reader, 'conversation:join', {
      conversationId,
      afterSeq: after,
      limit: 100,
    });
    for (const m of page.messages) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
    if (page.messages.length === 0) break;
    after = page.messages[page.messages.length - 1].seq;
    if (!page.hasMore) break;
  }
  for (const s of ledger.acked)
    if (seen.get(s.messageId) !== 1)
      problems.push(`acked ${s.messageId} in history ${seen.get(s.messageId) ?? 0} times`);
  if (problems.length > 0)
    throw new Error(`ledger check failed:\n${problems.slice(0, 20).join('\n')}`);
  return { stored: rows.length, acked: ledger.acked.length };
}

/** Reads /metrics of a node and returns one sample's value (first line starting with `name`). */
export async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : NaN;
}

export { request };
