/**
 * Scenario 7: the multi-node chat of scenario 5 with the clients behind HAProxy
 * (deploy/haproxy.cfg, rendered by scripts/haproxy.ts), beside the same two nodes reached
 * directly. Same nodes, same PostgreSQL database, same Redis, same load, measured one after the
 * other in one run so machine load hits both alike: the difference is the balancer. Closed loop
 * (throughput) and paced (latency at a fixed rate). Through HAProxy (leastconn) the 100 clients
 * spread over both nodes like the direct run's alternation, so in both about half of the
 * deliveries cross nodes through Redis.
 *
 * Target (issue 15): through the balancer within 20 % of direct — throughput ≥ 0.8×, send→recv
 * p50/p99 ≤ 1.2× (paced). Reported, not failed (run.ts); lost or duplicated messages fail.
 */
import { haproxyAvailable, startHaproxy, type Haproxy } from '../../scripts/haproxy.js';
import { machine, ratio, type Row, type ScenarioResult, type TargetCheck } from '../lib/report.js';
import {
  createDatabase,
  freePort,
  REDIS_URL,
  startServer,
  type RunningServer,
} from '../lib/servers.js';
import { runChat, type ChatMeasurement } from './chat-runner.js';
import type { BenchContext, Scenario } from './context.js';
import { dropKeys } from './multinode.js';

const NODES = 2;

interface Deployment {
  servers: RunningServer[];
  lb: Haproxy | null;
  stop(): Promise<void>;
}

/** Two nodes of ours on one fresh database and the given Redis, and HAProxy in front of them. */
async function deploy(
  ctx: BenchContext,
  redisEnv: Record<string, string>,
  tag: string,
  withLb: boolean,
): Promise<Deployment> {
  const prefix = `wcrbench:${ctx.runId}:lb${tag}:`;
  const db = await createDatabase(`lb${tag}`);
  const servers: RunningServer[] = [];
  let lb: Haproxy | null = null;
  const stop = async () => {
    await lb?.stop();
    for (const s of servers) await s.stop();
    await db.drop();
    if (redisEnv.REDIS_URL === REDIS_URL) await dropKeys(prefix);
    ctx.progress.done();
  };
  try {
    for (let i = 0; i < NODES; i++) {
      ctx.progress.update(`[${tag}] starting node ${i + 1}`);
      servers.push(
        await startServer({
          kind: 'ours',
          db: 'postgres',
          databaseUrl: db.url,
          secret: ctx.secret,
          label: `lb${tag}node${i}`,
          env: { ...redisEnv, REDIS_KEY_PREFIX: prefix, NODE_ID: `node-${i + 1}` },
          cpuProfDir: ctx.cpuProfDir,
        }),
      );
    }
    if (withLb) {
      ctx.progress.update(`[${tag}] starting HAProxy`);
      lb = await startHaproxy({
        port: await freePort(),
        servers: servers.map((s, i) => ({
          name: `node-${i + 1}`,
          host: '127.0.0.1',
          port: s.port,
        })),
      });
      await lb.waitForServers((s) => s.every((x) => x.status === 'UP'), 15_000, 'nodes UP');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, lb, stop };
}

const COLUMNS: ScenarioResult['columns'] = [
  { key: 'mode', label: 'load' },
  { key: 'ackedPerSec', label: 'acked msg/s' },
  { key: 'vsDirect', label: '× direct' },
  { key: 'deliveryP50', label: 'send→recv p50', unit: 'ms' },
  { key: 'deliveryP99', label: 'send→recv p99', unit: 'ms' },
  { key: 'ackP50', label: 'ack p50', unit: 'ms' },
  { key: 'ackP99', label: 'ack p99', unit: 'ms' },
  { key: 'cpuPerMsgUs', label: 'CPU/msg', unit: 'µs' },
  { key: 'serverCores', label: 'server cores' },
  { key: 'reordered', label: 'arrived before an earlier seq' },
];

export const multinodeLbScenario: Scenario = {
  name: 'multinode-lb',
  title:
    'Scenario 7 — chat over 2 nodes through HAProxy vs direct (single Redis; 100 clients, closed loop and paced)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const targets: TargetCheck[] = [];
    const got = new Map<string, ChatMeasurement>();
    const warmupMs = ctx.smoke ? 1000 : 5000;
    const durationMs = ctx.smoke ? 2000 : 15000;
    const pacedRate = ctx.smoke ? 200 : 400;
    const inCi = process.env.CI === 'true';
    const haveLb = haproxyAvailable();
    if (!ctx.hasRedis || !ctx.hasPostgres) {
      notes.push(
        `skipped: needs Redis (${ctx.hasRedis ? 'up' : 'down'}) and PostgreSQL (${ctx.hasPostgres ? 'up' : 'down'})`,
      );
    } else if (!haveLb && !inCi) {
      notes.push('skipped: haproxy is not installed (apt-get install haproxy)');
    } else {
      const label = 'single Redis';
      try {
        if (!haveLb) throw new Error('haproxy is not installed');
        const d = await deploy(ctx, { REDIS_URL }, 'single', true);
        try {
          for (const mode of ['closed', 'paced'] as const) {
            // Alternate which goes first: the first measurement on fresh nodes pays for warm-up.
            const order =
              mode === 'closed'
                ? (['direct', 'HAProxy'] as const)
                : (['HAProxy', 'direct'] as const);
            for (const via of order) {
              const name = `${via} ×${NODES} (${label}), ${mode}`;
              const m = await runChat(ctx, d.servers, {
                mode: mode === 'closed' ? { mode } : { mode, ratePerSec: pacedRate },
                warmupMs,
                durationMs,
                conversations: 10,
                membersPer: 10,
                contentChars: 120,
                countRedis: true,
                tolerateReorder: true,
                targets: via === 'HAProxy' ? [d.lb!.url] : undefined,
                extraServerPids: via === 'HAProxy' ? [d.lb!.pid] : undefined,
                label: name,
              });
              got.set(`${via}:${mode}`, m);
              failures.push(...m.failures);
              rows.push({
                target: `${via} ×${NODES} (${label})`,
                metrics: {
                  mode: mode === 'closed' ? 'closed loop' : `paced ${pacedRate}/s`,
                  ackedPerSec: m.ackedPerSec,
                  vsDirect: null,
                  deliveryP50: m.delivery.p50Ms,
                  deliveryP99: m.delivery.p99Ms,
                  ackP50: m.ack.p50Ms,
                  ackP99: m.ack.p99Ms,
                  cpuPerMsgUs: m.cpuPerMsgUs,
                  serverCores: m.serverCores,
                  reordered: m.reordered,
                },
              });
            }
          }
        } finally {
          await d.stop();
        }
        // × direct once both rows of a mode exist (the paced pair runs HAProxy first).
        for (const r of rows) {
          const mode = r.metrics.mode === 'closed loop' ? 'closed' : 'paced';
          const via = r.target.startsWith('HAProxy') ? 'HAProxy' : 'direct';
          r.metrics.vsDirect = ratio(
            got.get(`${via}:${mode}`)?.ackedPerSec,
            got.get(`direct:${mode}`)?.ackedPerSec,
          );
        }
      } catch (err) {
        notes.push(`${label} not measured: ${(err as Error).message}`);
      }
    }
    const within = (
      name: string,
      a: number | undefined,
      b: number | undefined,
      higherIsBetter: boolean,
    ) => {
      const r = ratio(a, b);
      targets.push({
        name,
        goal: higherIsBetter ? '≥ 0.8× direct' : '≤ 1.2× direct',
        measured: r === null ? 'not measured' : `${r}× (${a} vs ${b})`,
        pass: r === null ? null : higherIsBetter ? r >= 0.8 : r <= 1.2,
      });
    };
    const g = (k: string) => got.get(k);
    within(
      'throughput through HAProxy (closed loop)',
      g('HAProxy:closed')?.ackedPerSec,
      g('direct:closed')?.ackedPerSec,
      true,
    );
    within(
      `send→recv p50 through HAProxy (paced ${pacedRate}/s)`,
      g('HAProxy:paced')?.delivery.p50Ms,
      g('direct:paced')?.delivery.p50Ms,
      false,
    );
    within(
      `send→recv p99 through HAProxy (paced ${pacedRate}/s)`,
      g('HAProxy:paced')?.delivery.p99Ms,
      g('direct:paced')?.delivery.p99Ms,
      false,
    );
    return {
      scenario: 'multinode-lb',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: COLUMNS,
      rows,
      ratios: {
        throughput: ratio(g('HAProxy:closed')?.ackedPerSec, g('direct:closed')?.ackedPerSec),
        deliveryP99Paced: ratio(
          g('HAProxy:paced')?.delivery.p99Ms,
          g('direct:paced')?.delivery.p99Ms,
        ),
        cpuPerMsg: ratio(g('HAProxy:closed')?.cpuPerMsgUs, g('direct:closed')?.cpuPerMsgUs),
      },
      targets,
      failures,
      notes: [
        `the same ${NODES} nodes, database and Redis for direct and HAProxy rows, measured one after the other; warm-up ${warmupMs / 1000} s excluded, window ${durationMs / 1000} s each`,
        'direct: clients alternate between the nodes; HAProxy: every client connects to the balancer (leastconn); either way about half of the deliveries cross nodes',
        'CPU per message counts both nodes, HAProxy (its rows), the PostgreSQL backends and every redis-server on the machine',
        ...notes,
      ],
      chart: [
        { key: 'ackedPerSec', label: 'acked messages/s' },
        { key: 'deliveryP99', label: 'send→recv p99 (ms)' },
        { key: 'cpuPerMsgUs', label: 'CPU per message (µs)' },
      ],
    };
  },
};
