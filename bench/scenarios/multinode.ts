/**
 * Scenario 5: scenario 1 spread over 2 nodes behind Redis (clients alternate nodes, so every
 * conversation fans out across nodes). Ours: 2 × `node dist/src/main.js` on one PostgreSQL
 * database with REDIS_URL and a unique REDIS_KEY_PREFIX; bare: 2 × the baseline with the Redis
 * adapter and the seq in Redis.
 */
import { Redis } from 'ioredis';
import { machine, ratio, type Row, type ScenarioResult } from '../lib/report.js';
import { createDatabase, REDIS_URL, startServer, type RunningServer } from '../lib/servers.js';
import { runChat, type ChatMeasurement } from './chat-runner.js';
import { CHAT_COLUMNS, chatRow } from './chat.js';
import type { BenchContext, Scenario } from './context.js';

/** Removes every Redis key the run left under its own prefix (the server is shared). */
/**
 * The chat load of the multi-node scenarios (5 and 7): 10 conversations of 10 members, 120-char
 * messages, Redis commands counted; deliveries of different senders may interleave across nodes.
 */
export const TWO_NODE_CHAT = {
  conversations: 10,
  membersPer: 10,
  contentChars: 120,
  countRedis: true,
  tolerateReorder: true,
} as const;

export async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // best effort: keys carry the run's prefix and harm nobody
  } finally {
    redis.disconnect();
  }
}

async function twoNodes(
  ctx: BenchContext,
  kind: 'bare' | 'ours',
  label: string,
): Promise<{ servers: RunningServer[]; stop: () => Promise<void> }> {
  const prefix = `wcrbench:${ctx.runId}:${kind}:`;
  const db = kind === 'ours' ? await createDatabase('multinode') : undefined;
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      ctx.progress.update(`[${label}] starting node ${i + 1}`);
      servers.push(
        await startServer({
          kind,
          db: kind === 'ours' ? 'postgres' : 'none',
          databaseUrl: db?.url,
          secret: ctx.secret,
          label: `${kind}node${i}`,
          env: { REDIS_URL, REDIS_KEY_PREFIX: prefix, NODE_ID: `bench-${kind}-${i}` },
          cpuProfDir: kind === 'ours' ? ctx.cpuProfDir : undefined,
        }),
      );
    }
  } catch (err) {
    for (const s of servers) await s.stop();
    await db?.drop();
    throw err;
  }
  return {
    servers,
    stop: async () => {
      for (const s of servers) await s.stop();
      await db?.drop();
      await dropKeys(prefix);
      ctx.progress.done();
    },
  };
}

export const multinodeScenario: Scenario = {
  name: 'multinode',
  title: 'Scenario 5 — chat throughput over 2 nodes with Redis (closed loop, 100 clients)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const got = new Map<string, ChatMeasurement>();
    const warmupMs = ctx.smoke ? 1000 : 5000;
    const durationMs = ctx.smoke ? 2000 : 15000;
    if (!ctx.hasRedis || !ctx.hasPostgres) {
      notes.push(
        `skipped: needs Redis (${ctx.hasRedis ? 'up' : 'down'}) and PostgreSQL (${ctx.hasPostgres ? 'up' : 'down'})`,
      );
    } else {
      for (const [kind, label] of [
        ['bare', 'bare ×2 (Redis adapter)'],
        ['ours', 'ours ×2 (PostgreSQL + Redis)'],
      ] as const) {
        if (kind === 'ours' && ctx.overrides.bareOnly) continue;
        try {
          const nodes = await twoNodes(ctx, kind, label);
          try {
            const m = await runChat(ctx, nodes.servers, {
              mode: { mode: 'closed' },
              warmupMs,
              durationMs,
              ...TWO_NODE_CHAT,
              label,
            });
            got.set(kind, m);
            failures.push(...m.failures);
            const row = chatRow(label, m, got.get('bare'));
            row.metrics.reordered = m.reordered;
            rows.push(row);
          } finally {
            await nodes.stop();
          }
        } catch (err) {
          notes.push(`${label} not measured: ${(err as Error).message}`);
        }
      }
    }
    return {
      scenario: 'multinode',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: [...CHAT_COLUMNS, { key: 'reordered', label: 'arrived before an earlier seq' }],
      rows,
      ratios: {
        throughput: ratio(got.get('ours')?.ackedPerSec, got.get('bare')?.ackedPerSec),
        cpuPerMsg: ratio(got.get('ours')?.cpuPerMsgUs, got.get('bare')?.cpuPerMsgUs),
      },
      targets: [],
      failures,
      notes: [
        'CPU per message counts both nodes, PostgreSQL backends (ours) and redis-server (both; the Redis server is shared with other users of the machine)',
        'no target in the issue for this scenario: it shows the cost of the cross-node path',
        'two nodes allocate seq and publish independently, so a member may get seq n+1 (published by one node) before seq n (published by the other): such arrivals are counted, not failed; a seq that never arrives, or arrives twice, fails the run',
        ...notes,
      ],
      chart: [
        { key: 'ackedPerSec', label: 'acked messages/s' },
        { key: 'ackP99', label: 'p99 ack latency (ms)' },
        { key: 'cpuPerMsgUs', label: 'CPU per message (µs)' },
      ],
    };
  },
};
