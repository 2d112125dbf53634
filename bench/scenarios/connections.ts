/**
 * Scenario 3: connection scale — authenticated idle websocket connections ramped to 19,000 on one
 * node (loader processes of ≤ 2,800 sockets each: a process here may hold 20,000 open files),
 * with a short heartbeat so pings are exercised at the top.
 */
import { all, closeLoaders, startLoaders } from '../lib/loaders.js';
import { CpuMeter, RssSampler } from '../lib/proc.js';
import { machine, ratio, type Row, type ScenarioResult, type TargetCheck } from '../lib/report.js';
import { sleep, type BenchContext, type Scenario } from './context.js';
import { pair, withServer, type Deployment } from './targets.js';

const PER_LOADER = 2800;
const ORG_SIZE = 100;

interface ScaleMeasurement {
  target: number;
  connected: number;
  failed: number;
  connectPerSec: number;
  cpuPerConnUs: number;
  rssPerConnKiB: number;
  rssTopMiB: number;
  holdCores: number;
  open: number;
  disconnected: number;
  socketsWithoutPing: number;
  minPings: number;
  /** From our server's /metrics (prom-client default metrics); the baseline has none. */
  heapUsedMiB: number | null;
  heapTotalMiB: number | null;
  failures: string[];
  notes: string[];
}

/** V8 heap used/total at the top, when the server exposes prom-client's default metrics. */
async function heapStats(url: string): Promise<{ used: number | null; total: number | null }> {
  try {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) return { used: null, total: null };
    const text = await res.text();
    const pick = (name: string): number | null => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
      return m ? Math.round(Number(m[1]) / 2 ** 20) : null;
    };
    return {
      used: pick('nodejs_heap_size_used_bytes'),
      total: pick('nodejs_heap_size_total_bytes'),
    };
  } catch {
    return { used: null, total: null };
  }
}

async function measure(
  ctx: BenchContext,
  url: string,
  pid: number,
  n: number,
  holdMs: number,
  rampLimitMs: number,
  label: string,
): Promise<ScaleMeasurement> {
  const failures: string[] = [];
  const tag = `${ctx.runId}${label.replace(/[^a-z]/g, '').slice(0, 4)}`;
  const cpu = new CpuMeter(() => [pid]);
  const rss = new RssSampler(() => [pid]);
  // Warm-up: 200 connections opened and closed, so the ramp runs warm code; excluded.
  const warm = startLoaders(1);
  try {
    await warm[0].request('idle:connect', {
      target: url,
      secret: ctx.secret,
      users: Array.from({ length: 200 }, (_, i) => ({
        userId: `w${tag}${i}`,
        organizationId: `ow${tag}`,
        role: 'staff',
      })),
      concurrency: 20,
      listenAlerts: false,
      deadlineMs: 60_000,
    });
  } finally {
    await closeLoaders(warm);
  }
  await sleep(2000);
  const loaders = startLoaders(Math.ceil(n / PER_LOADER));
  try {
    const rssBefore = rss.sample();
    cpu.begin();
    const t0 = Date.now();
    const per = Math.ceil(n / loaders.length);
    const ramp = Promise.all(
      loaders.map((l, li) =>
        l.request('idle:connect', {
          target: url,
          secret: ctx.secret,
          users: Array.from({ length: Math.max(0, Math.min(per, n - li * per)) }, (_, k) => {
            const i = li * per + k;
            return {
              userId: `i${tag}${i}`,
              organizationId: `o${tag}${Math.floor(i / ORG_SIZE)}`,
              role: 'staff',
            };
          }),
          concurrency: 20,
          listenAlerts: false,
          deadlineMs: rampLimitMs,
        }),
      ),
    );
    let done = false;
    void ramp.finally(() => (done = true));
    while (!done) {
      const c = loaders.reduce((s, l) => s + l.count, 0);
      const el = (Date.now() - t0) / 1000;
      ctx.progress.update(
        `[${label}] connecting ${c}/${n} (${Math.round(c / Math.max(el, 0.001))}/s), server RSS ${Math.round(rss.sample() / 2 ** 20)} MiB`,
      );
      await sleep(250);
    }
    const results = await ramp;
    const rampMs = Date.now() - t0;
    const rampCpu = cpu.end();
    const connected = results.reduce((s, r) => s + r.connected, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    const skipped = results.reduce((s, r) => s + r.skipped, 0);
    if (failed > 0)
      failures.push(
        `${label}: ${failed} of ${n} connections refused or timed out: ${results
          .flatMap((r) => r.errors)
          .slice(0, 3)
          .join('; ')}`,
      );
    await sleep(1000);
    await all(loaders, 'idle:mark');
    const notes =
      skipped > 0
        ? [
            `${label}: the ramp stopped at its ${rampLimitMs / 1000} s limit with ${connected} of ${n} connected`,
          ]
        : [];
    cpu.begin();
    rss.begin(500);
    const h0 = Date.now();
    while (Date.now() - h0 < holdMs) {
      const st = await all(loaders, 'idle:status');
      ctx.progress.update(
        `[${label}] holding ${((Date.now() - h0) / 1000).toFixed(0)}/${holdMs / 1000}s open ${st.reduce((s, x) => s + x.open, 0)} pings ${st.reduce((s, x) => s + x.totalPings, 0)}`,
      );
      await sleep(500);
    }
    const holdCpu = cpu.end();
    const mem = rss.end();
    const heap = await heapStats(url);
    const st = await all(loaders, 'idle:status');
    ctx.progress.done();
    const open = st.reduce((s, x) => s + x.open, 0);
    const disconnected = st.reduce((s, x) => s + x.disconnected, 0);
    const without = st.reduce((s, x) => s + x.socketsWithoutPing, 0);
    const minPings = Math.min(...st.map((x) => x.minPings));
    if (disconnected > 0) {
      const reasons: Record<string, number> = {};
      for (const x of st)
        for (const [k, v] of Object.entries(x.disconnectReasons))
          reasons[k] = (reasons[k] ?? 0) + v;
      failures.push(
        `${label}: ${disconnected} sockets dropped while idle (${JSON.stringify(reasons)})`,
      );
    }
    if (without > 0)
      failures.push(
        `${label}: ${without} sockets got no heartbeat during the ${holdMs / 1000} s hold`,
      );
    return {
      target: n,
      connected,
      failed,
      connectPerSec: Math.round((connected / rampMs) * 1000),
      cpuPerConnUs: connected > 0 ? Math.round((rampCpu / connected) * 1e6) : NaN,
      rssPerConnKiB:
        connected > 0 ? Math.round(((mem.median - rssBefore) / connected / 1024) * 10) / 10 : NaN,
      rssTopMiB: Math.round(mem.median / 2 ** 20),
      holdCores: Math.round((holdCpu / (holdMs / 1000)) * 100) / 100,
      open,
      disconnected,
      socketsWithoutPing: without,
      minPings,
      heapUsedMiB: heap.used,
      heapTotalMiB: heap.total,
      failures,
      notes,
    };
  } finally {
    await closeLoaders(loaders);
  }
}

export const connectionsScenario: Scenario = {
  name: 'connections',
  title: 'Scenario 3 — connection scale (authenticated idle websocket connections on one node)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const n = ctx.overrides.connections ?? (ctx.smoke ? 300 : 19_000);
    const pingMs = ctx.smoke ? 1000 : 5000;
    const holdMs = ctx.smoke ? 2500 : 3 * pingMs + 1000;
    const rampLimitMs = ctx.smoke ? 60_000 : 540_000;
    const env = {
      WS_PING_INTERVAL_MS: String(pingMs),
      WS_PING_TIMEOUT_MS: String(2 * pingMs),
      WS_MAX_CONNECTIONS_PER_USER: '10',
    };
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const got = new Map<string, ScaleMeasurement>();
    const deps: Deployment[] = pair(ctx);
    for (const d of deps) {
      try {
        const m = await withServer(ctx, d, env, (s) =>
          measure(ctx, s.url, s.pid, n, holdMs, rampLimitMs, d.label),
        );
        got.set(d.label, m);
        failures.push(...m.failures);
        notes.push(...m.notes);
        const bare = got.get('bare');
        rows.push({
          target: d.label,
          metrics: {
            connected: m.connected,
            failed: m.failed,
            connectPerSec: m.connectPerSec,
            cpuPerConnUs: m.cpuPerConnUs,
            rssPerConnKiB: m.rssPerConnKiB,
            rssVsBare: d.kind === 'bare' ? null : ratio(m.rssPerConnKiB, bare?.rssPerConnKiB),
            rssTopMiB: m.rssTopMiB,
            holdCores: m.holdCores,
            open: m.open,
            disconnected: m.disconnected,
            minPings: m.minPings,
            heapUsedMiB: m.heapUsedMiB,
            heapTotalMiB: m.heapTotalMiB,
          },
        });
      } catch (err) {
        notes.push(`${d.label} not measured: ${(err as Error).message}`);
      }
    }
    const bare = got.get('bare');
    const ours = deps[1] ? got.get(deps[1].label) : undefined;
    const r = ratio(ours?.rssPerConnKiB, bare?.rssPerConnKiB);
    const targets: TargetCheck[] = [
      {
        name: 'RSS per idle authenticated connection',
        goal: '≤ 1.2× bare',
        measured:
          r === null
            ? 'not measured'
            : `${r}× (${ours!.rssPerConnKiB} vs ${bare!.rssPerConnKiB} KiB)`,
        pass: r === null ? null : r <= 1.2,
      },
      {
        name: `${n.toLocaleString('en-US')} connections held with heartbeats intact`,
        goal: `all ${n} open, none dropped, every socket pinged during the hold`,
        measured: ours
          ? `${ours.open} open, ${ours.disconnected} dropped, ${ours.socketsWithoutPing} without a ping, ≥ ${ours.minPings} pings each in ${holdMs / 1000} s`
          : 'not measured',
        pass: ours
          ? ours.open === n && ours.disconnected === 0 && ours.socketsWithoutPing === 0
          : null,
      },
    ];
    return {
      scenario: 'connections',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: [
        { key: 'connected', label: 'connected' },
        { key: 'failed', label: 'failed' },
        { key: 'connectPerSec', label: 'connect rate', unit: '/s' },
        { key: 'cpuPerConnUs', label: 'CPU/conn', unit: 'µs' },
        { key: 'rssPerConnKiB', label: 'RSS/conn', unit: 'KiB' },
        { key: 'rssVsBare', label: 'RSS × bare' },
        { key: 'rssTopMiB', label: 'RSS at top', unit: 'MiB' },
        { key: 'holdCores', label: 'idle cores' },
        { key: 'open', label: 'open at end' },
        { key: 'disconnected', label: 'dropped' },
        { key: 'minPings', label: 'min pings' },
        { key: 'heapUsedMiB', label: 'V8 heap used', unit: 'MiB' },
        { key: 'heapTotalMiB', label: 'V8 heap total', unit: 'MiB' },
      ],
      rows,
      ratios: { rssPerConnection: r },
      targets,
      failures,
      notes: [
        `${Math.ceil(n / PER_LOADER)} loader processes of ≤ ${PER_LOADER} sockets, 20 handshakes in flight each; one user per socket, organizations of ${ORG_SIZE}; heartbeat ${pingMs} ms, hold ${holdMs / 1000} s; RSS per connection = (median RSS during the hold − RSS before the ramp) / connections; CPU per connection = server CPU during the ramp / connections (ours includes presence:changed to each organization)`,
        ...notes,
      ],
      chart: [
        { key: 'rssPerConnKiB', label: 'RSS per connection (KiB)' },
        { key: 'cpuPerConnUs', label: 'CPU per connection (µs)' },
        { key: 'connectPerSec', label: 'connections per second' },
      ],
    };
  },
};
