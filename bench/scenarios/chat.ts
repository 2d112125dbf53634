/** Scenario 1: chat throughput, closed loop, on the embedded database and on PostgreSQL. */
import { machine, ratio, type Row, type ScenarioResult, type TargetCheck } from '../lib/report.js';
import { runChat, type ChatMeasurement } from './chat-runner.js';
import type { BenchContext, Scenario } from './context.js';
import { deployments, withServer } from './targets.js';

export function chatRow(label: string, m: ChatMeasurement, bare?: ChatMeasurement): Row {
  return {
    target: label,
    metrics: {
      ackedPerSec: m.ackedPerSec,
      vsBare: bare ? ratio(m.ackedPerSec, bare.ackedPerSec) : null,
      ackP50: m.ack.p50Ms,
      ackP99: m.ack.p99Ms,
      ackP999: m.ack.p999Ms,
      deliveryP99: m.delivery.p99Ms,
      cpuPerMsgUs: m.cpuPerMsgUs,
      cpuVsBare: bare ? ratio(m.cpuPerMsgUs, bare.cpuPerMsgUs) : null,
      serverCores: m.serverCores,
      pgCpuSec: Math.round(m.pgCpuSec * 100) / 100,
      rssMiB: m.rssMiB,
      acked: m.acked,
    },
  };
}

export const CHAT_COLUMNS: ScenarioResult['columns'] = [
  { key: 'ackedPerSec', label: 'acked msg/s' },
  { key: 'vsBare', label: '× bare' },
  { key: 'ackP50', label: 'ack p50', unit: 'ms' },
  { key: 'ackP99', label: 'ack p99', unit: 'ms' },
  { key: 'ackP999', label: 'ack p99.9', unit: 'ms' },
  { key: 'deliveryP99', label: 'send→recv p99', unit: 'ms' },
  { key: 'cpuPerMsgUs', label: 'CPU/msg', unit: 'µs' },
  { key: 'cpuVsBare', label: 'CPU × bare' },
  { key: 'serverCores', label: 'server cores' },
  { key: 'pgCpuSec', label: 'PG CPU', unit: 's' },
  { key: 'rssMiB', label: 'RSS', unit: 'MiB' },
];

export const chatScenario: Scenario = {
  name: 'chat',
  title: 'Scenario 1 — chat throughput, closed loop (100 clients, 10 conversations of 10)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const measured = new Map<string, ChatMeasurement>();
    const warmupMs = ctx.smoke ? 1000 : 5000;
    const durationMs = ctx.smoke ? 2000 : 15000;
    for (const d of deployments(ctx, { embedded: true, postgres: true })) {
      try {
        const m = await withServer(ctx, d, {}, (s) =>
          runChat(ctx, [s], {
            mode: { mode: 'closed' },
            warmupMs,
            durationMs,
            conversations: 10,
            membersPer: 10,
            contentChars: 120,
            label: d.label,
          }),
        );
        measured.set(d.label, m);
        failures.push(...m.failures);
        rows.push(chatRow(d.label, m, measured.get('bare')));
      } catch (err) {
        notes.push(`${d.label} not measured: ${(err as Error).message}`);
      }
    }
    if (!ctx.hasPostgres)
      notes.push('PostgreSQL not reachable at 127.0.0.1:5432: the PostgreSQL row is missing');
    const bare = measured.get('bare');
    const emb = measured.get('ours (embedded)');
    const pgm = measured.get('ours (PostgreSQL)');
    const targets: TargetCheck[] = [];
    const tp = (name: string, m: ChatMeasurement | undefined, min: number) => {
      const r = ratio(m?.ackedPerSec, bare?.ackedPerSec);
      targets.push({
        name,
        goal: `≥ ${min}× bare`,
        measured:
          r === null ? 'not measured' : `${r}× (${m!.ackedPerSec} vs ${bare!.ackedPerSec} msg/s)`,
        pass: r === null ? null : r >= min,
      });
    };
    tp('chat throughput, PostgreSQL', pgm, 0.7);
    tp('chat throughput, embedded', emb, 0.5);
    for (const [name, m] of [
      ['CPU per acked message, PostgreSQL (PG backends included)', pgm],
      ['CPU per acked message, embedded', emb],
    ] as const) {
      const r = ratio(m?.cpuPerMsgUs, bare?.cpuPerMsgUs);
      targets.push({
        name,
        goal: '≤ 1.5× bare',
        measured:
          r === null ? 'not measured' : `${r}× (${m!.cpuPerMsgUs} vs ${bare!.cpuPerMsgUs} µs)`,
        pass: r === null ? null : r <= 1.5,
      });
    }
    return {
      scenario: 'chat',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: CHAT_COLUMNS,
      rows,
      ratios: {
        throughputPostgres: ratio(pgm?.ackedPerSec, bare?.ackedPerSec),
        throughputEmbedded: ratio(emb?.ackedPerSec, bare?.ackedPerSec),
        cpuPerMsgPostgres: ratio(pgm?.cpuPerMsgUs, bare?.cpuPerMsgUs),
        cpuPerMsgEmbedded: ratio(emb?.cpuPerMsgUs, bare?.cpuPerMsgUs),
      },
      targets,
      failures,
      notes: [
        `warm-up ${warmupMs / 1000} s excluded; window ${durationMs / 1000} s; ${ctx.chatLoaders} loader processes`,
        ...notes,
      ],
      chart: [
        { key: 'ackedPerSec', label: 'acked messages/s' },
        { key: 'ackP99', label: 'p99 ack latency (ms)' },
        { key: 'cpuPerMsgUs', label: 'server CPU per message (µs)' },
      ],
    };
  },
};
