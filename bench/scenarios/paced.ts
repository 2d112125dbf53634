/** Scenario 2: paced latency — the chat topology at fixed send rates. */
import { machine, ratio, type Row, type ScenarioResult, type TargetCheck } from '../lib/report.js';
import { runChat, type ChatMeasurement } from './chat-runner.js';
import type { BenchContext, Scenario } from './context.js';
import { pair, withServer, type Deployment } from './targets.js';

export const pacedScenario: Scenario = {
  name: 'paced',
  title: 'Scenario 2 — paced latency (100 clients, 10 conversations of 10, fixed send rates)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const rates = ctx.overrides.rates ?? (ctx.smoke ? [500, 1000] : [500, 1000, 2000, 4000]);
    const warmupMs = ctx.smoke ? 1000 : 2000;
    const durationMs = ctx.smoke ? 2000 : 10000;
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const results = new Map<string, ChatMeasurement>();
    const deps: Deployment[] = pair(ctx);
    for (const d of deps) {
      try {
        await withServer(ctx, d, {}, async (s) => {
          for (const rate of rates) {
            const label = `${d.label} @${rate}/s`;
            const m = await runChat(ctx, [s], {
              mode: { mode: 'paced', ratePerSec: rate },
              warmupMs,
              durationMs,
              conversations: 10,
              membersPer: 10,
              contentChars: 120,
              label,
            });
            results.set(label, m);
            failures.push(...m.failures);
            if (m.runtime)
              notes.push(
                `${label}: server GC ${m.runtime.gcMs} ms in ${m.runtime.gcCount} pauses over the window; event loop late by p99 ${m.runtime.loopLateP99Ms?.toFixed(1) ?? '?'} ms, max ${m.runtime.loopLateMaxMs?.toFixed(1) ?? '?'} ms`,
              );
            const bare = results.get(`bare @${rate}/s`);
            rows.push({
              target: label,
              metrics: {
                rate,
                achieved: m.ackedPerSec,
                ackP50: m.ack.p50Ms,
                ackP99: m.ack.p99Ms,
                deliveryP50: m.delivery.p50Ms,
                deliveryP99: m.delivery.p99Ms,
                p99VsBare: d.kind === 'bare' ? null : ratio(m.ack.p99Ms, bare?.ack.p99Ms),
                serverP50: m.serverP50Ms,
                serverP99: m.serverP99Ms,
                cpuPerMsgUs: m.cpuPerMsgUs,
                serverCores: m.serverCores,
                loaderLagMs: m.scheduleLagMs,
                skipped: m.skipped,
              },
            });
          }
        });
      } catch (err) {
        notes.push(`${d.label} not measured: ${(err as Error).message}`);
      }
    }
    const ours = deps[1]?.label ?? 'ours';
    const at1k = results.get(`${ours} @1000/s`);
    const bare1k = results.get('bare @1000/s');
    const r = ratio(at1k?.ack.p99Ms, bare1k?.ack.p99Ms);
    const targets: TargetCheck[] = [
      {
        name: `p99 ack at 1,000 msg/s, ${ours}`,
        goal: '≤ 10 ms',
        measured: at1k ? `${at1k.ack.p99Ms} ms` : 'not measured',
        pass: at1k ? at1k.ack.p99Ms <= 10 : null,
      },
      {
        name: 'p99 ack at 1,000 msg/s vs bare',
        goal: '≤ 2× bare',
        measured:
          r === null ? 'not measured' : `${r}× (${at1k!.ack.p99Ms} vs ${bare1k!.ack.p99Ms} ms)`,
        pass: r === null ? null : r <= 2,
      },
    ];
    for (const rate of rates) {
      const m = results.get(`${ours} @${rate}/s`);
      if (m && m.ackedPerSec < rate * 0.9)
        notes.push(
          `${ours} did not keep up with ${rate}/s (achieved ${m.ackedPerSec}/s): latency there is queueing`,
        );
    }
    return {
      scenario: 'paced',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: [
        { key: 'rate', label: 'rate', unit: 'msg/s' },
        { key: 'achieved', label: 'acked', unit: 'msg/s' },
        { key: 'ackP50', label: 'ack p50', unit: 'ms' },
        { key: 'ackP99', label: 'ack p99', unit: 'ms' },
        { key: 'deliveryP50', label: 'delivery p50', unit: 'ms' },
        { key: 'deliveryP99', label: 'delivery p99', unit: 'ms' },
        { key: 'p99VsBare', label: 'p99 × bare' },
        { key: 'serverP50', label: 'server p50 ≤', unit: 'ms' },
        { key: 'serverP99', label: 'server p99 ≤', unit: 'ms' },
        { key: 'cpuPerMsgUs', label: 'CPU/msg', unit: 'µs' },
        { key: 'serverCores', label: 'server cores' },
        { key: 'loaderLagMs', label: 'loader lag', unit: 'ms' },
        { key: 'skipped', label: 'skipped (overload)' },
      ],
      rows,
      ratios: { p99AckAt1000: r },
      targets,
      failures,
      notes: [
        `open loop: each loader sends on a 1 ms schedule regardless of acks; latency from the actual send; warm-up ${warmupMs / 1000} s excluded, window ${durationMs / 1000} s per rate`,
        ...notes,
      ],
      chart: [
        { key: 'ackP99', label: 'p99 ack latency (ms)' },
        { key: 'deliveryP99', label: 'p99 delivery latency (ms)' },
        { key: 'ackP50', label: 'p50 ack latency (ms)' },
      ],
    };
  },
};
