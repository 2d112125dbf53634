/**
 * Scenario 5: scenario 1 spread over 2 nodes behind Redis (clients alternate nodes, so every
 * conversation fans out across nodes). Ours: 2 × `node dist/src/main.js` on one PostgreSQL
 * database with REDIS_URL and a unique REDIS_KEY_PREFIX; bare: 2 × the baseline with the Redis
 * adapter and the seq in Redis.
 */
import { machine, ratio, type Row, type ScenarioResult } from '../lib/report.js';
import { createDatabase, REDIS_URL, startServer, type RunningServer } from '../lib/servers.js';
import { runChat, type ChatMeasurement } from './chat-runner.js';
import { CHAT_COLUMNS, chatRow } from './chat.js';
import type { BenchContext, Scenario } from './context.js';

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
        try {
          const nodes = await twoNodes(ctx, kind, label);
          try {
            const m = await runChat(ctx, nodes.servers, {
              mode: { mode: 'closed' },
              warmupMs,
              durationMs,
              conversations: 10,
              membersPer: 10,
              contentChars: 120,
              countRedis: true,
              label,
            });
            got.set(kind, m);
            failures.push(...m.failures);
            rows.push(chatRow(label, m, got.get('bare')));
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
      columns: CHAT_COLUMNS,
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
