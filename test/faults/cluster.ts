import { afterAll, beforeAll } from 'vitest';
import { CAP } from '../support/cluster.js';
import { closeAll, connect, connectError, ok, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/process.js';
import { OwnRedis } from '../support/redis-server.js';
import { createTestDatabase, redisPrefix } from '../support/services.js';
import { signToken, TEST_JWT_SECRET } from '../support/tokens.js';

/**
 * Three server processes (node dist/src/main.js) named node-1..3 as `npm run cluster` names
 * them, on a PostgreSQL database of their own and a redis-server of the test's own, so nodes can
 * be killed (-9), frozen (SIGSTOP) and restarted, and Redis killed and restarted, by PID only.
 */
export const TTL_MS = 2500;
export { CAP };

export interface Cluster {
  redis: OwnRedis;
  nodes: ServerProcess[];
  env: (i: number) => Record<string, string>;
  /** Kills node i with SIGKILL and starts it again at once with the same NODE_ID and port. */
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(label: string, ttlMs = TTL_MS): Promise<Cluster> {
  const redis = await OwnRedis.start();
  const db = await createTestDatabase(label).catch(async (err: unknown) => {
    await redis.down();
    throw err;
  });
  const prefix = redisPrefix(label);
  const ports = [await freePort(), await freePort(), await freePort()];
  const env = (i: number): Record<string, string> => ({
    NODE_ENV: 'test',
    NODE_ID: `node-${i + 1}`,
    PORT: String(ports[i]),
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    REDIS_NODE_TTL_MS: String(ttlMs),
    WS_MAX_CONNECTIONS_PER_USER: String(CAP),
    LOG_LEVEL: 'warn',
    RATE_LIMITS: JSON.stringify({
      'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
      'handshake:user': { maxTokens: 100000, refillIntervalMs: 1 },
      default: { maxTokens: 100000, refillIntervalMs: 1 },
    }),
  });
  const nodes: ServerProcess[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await redis.down();
    await db.drop();
  };
  try {
    // The first node migrates the fresh database; the others start against it together.
    nodes.push(await startServerProcess(env(0)));
    const rest = await Promise.allSettled([startServerProcess(env(1)), startServerProcess(env(2))]);
    for (const r of rest) if (r.status === 'fulfilled') nodes.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await close(); // a failed start leaks no process
    throw err;
  }
  return {
    redis,
    nodes,
    env,
    async restart(i: number) {
      await nodes[i].stop('SIGKILL');
      nodes[i] = await startServerProcess(env(i));
    },
    close,
  };
}

/** A suite's cluster (`useFaultCluster`): the cluster's fields, and the sockets to close after it. */
export interface FaultClusterFixture extends Cluster {
  /** Sockets the suite opened; closed before the cluster stops. */
  open: TestSocket[];
}

/** One cluster per suite, started in `beforeAll` and stopped (sockets first) in `afterAll`. */
export function useFaultCluster(label: string, ttlMs = TTL_MS): FaultClusterFixture {
  let cluster: Cluster | undefined;
  const open: TestSocket[] = [];
  beforeAll(async () => {
    cluster = await startCluster(label, ttlMs);
  }, 120_000);
  afterAll(async () => {
    // A node a test froze is resumed first: its sockets then close cleanly before the kill.
    for (const n of cluster?.nodes ?? []) n.proc.kill('SIGCONT');
    closeAll(...open);
    await cluster?.close();
  });
  const running = (): Cluster => {
    if (!cluster) throw new Error('useFaultCluster: the suite has not started its cluster');
    return cluster;
  };
  return {
    open,
    get redis() {
      return running().redis;
    },
    get nodes() {
      return running().nodes;
    },
    env: (i) => running().env(i),
    restart: (i) => running().restart(i),
    close: () => running().close(),
  };
}

export function token(org: string, userId: string, role = 'nurse'): Promise<string> {
  return signToken({ userId, organizationId: org, role });
}

/** presence:query from a live client: userId → status. */
export async function statuses(
  observer: TestSocket,
  userIds: string[],
): Promise<Record<string, string>> {
  const { users } = await ok(observer, 'presence:query', { userIds });
  return Object.fromEntries(users.map((u) => [u.userId, u.status]));
}

/**
 * Slots converged: the user can open exactly `free` more sockets across the nodes (then the cap
 * refuses one more). The probe sockets are closed again.
 */
export async function slotsFree(urls: string[], t: string, free: number): Promise<boolean> {
  const opened: TestSocket[] = [];
  try {
    for (let i = 0; i < free; i++) {
      try {
        opened.push((await connect(urls[i % urls.length], t, { timeoutMs: 5000 })).socket);
      } catch {
        return false;
      }
    }
    const over = await connectError(urls[free % urls.length], t, { timeoutMs: 5000 });
    return over.message === 'RATE_LIMIT_EXCEEDED';
  } finally {
    closeAll(...opened);
    // The probe's own slots are released by its disconnects: wait until they are gone.
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Polls `check` until it is true; returns the milliseconds from `since` (the fault) to the
 * first success, or throws after `timeoutMs`.
 */
export async function convergence(
  what: string,
  since: number,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const deadline = since + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - since;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not converged ${timeoutMs} ms after the fault (${lastError instanceof Error ? lastError.message : 'still wrong'})`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The node's live `/` sockets, from /metrics. */
export async function liveSockets(url: string): Promise<number> {
  const res = await http<string>(url, 'GET', '/metrics');
  const m = /realtime_connections\{namespace="\/"\} (\d+)/.exec(res.body);
  return m ? Number(m[1]) : 0;
}

/** The same crash check the ledger fault suites use. */
export { crashLines, expectRunningWithoutCrash } from '../support/cluster.js';
