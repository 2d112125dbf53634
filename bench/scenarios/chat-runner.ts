/**
 * One chat measurement against one deployment (bare or ours; one or more nodes): 100 clients in
 * 10 conversations of 10, closed loop or paced, warm-up excluded from every figure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { merge, summarize, type LatencySummary } from '../lib/hist.js';
import type { SendMode } from '../lib/ipc.js';
import { all, closeLoaders, startLoaders } from '../lib/loaders.js';
import { CpuMeter, pidsByComm, RssSampler } from '../lib/proc.js';
import { scrapeServer, windowPercentileMs } from '../lib/server-latency.js';
import { postgresBackendPids, type RunningServer } from '../lib/servers.js';
import { sleep, type BenchContext } from './context.js';

export interface ChatOptions {
  mode: SendMode;
  warmupMs: number;
  durationMs: number;
  conversations: number;
  membersPer: number;
  contentChars: number;
  /** Include redis-server's CPU (multi-node). */
  countRedis?: boolean;
  /** Multi-node: count arrivals out of seq order instead of failing on them (loss still fails). */
  tolerateReorder?: boolean;
  /** URLs the clients connect to (a load balancer); default: the servers' own URLs. */
  targets?: string[];
  /** More processes whose CPU counts as server CPU (a load balancer in front of the servers). */
  extraServerPids?: number[];
  label: string;
}

export interface ChatMeasurement {
  ackedPerSec: number;
  acked: number;
  windowMs: number;
  ack: LatencySummary;
  delivery: LatencySummary;
  /**
   * Server-side message:send latency (receipt → ack), upper bucket bounds from our /metrics
   * histogram over the window (first node); null for the baseline.
   */
  serverP50Ms: number | null;
  serverP99Ms: number | null;
  /** Our server's GC time and event-loop delay in the window (prom-client); null for bare. */
  runtime: {
    gcMs: number;
    gcCount: number;
    /** How late the event loop ran (p99, max) over the window, beyond its sampling interval. */
    loopLateP99Ms: number | null;
    loopLateMaxMs: number | null;
  } | null;
  /** CPU seconds in the window: server processes, PostgreSQL backends, redis-server. */
  serverCpuSec: number;
  pgCpuSec: number;
  redisCpuSec: number;
  /** (server + PostgreSQL [+ Redis]) CPU per acked message, µs. */
  cpuPerMsgUs: number;
  /** Server CPU utilisation in the window (1.0 = one core). */
  serverCores: number;
  rssMiB: number;
  scheduleLagMs: number;
  /** Deliveries that arrived ahead of an earlier seq. */
  reordered: number;
  /** Paced sends skipped by the loaders because the server was 1,000 acks behind. */
  skipped: number;
  failures: string[];
}

/** A delay percentile minus the sampling interval (the histogram's minimum). */
const late = (v: number | null, min: number | null): number | null =>
  v === null || min === null ? null : Math.max(0, v - min);

export async function runChat(
  ctx: BenchContext,
  servers: RunningServer[],
  opts: ChatOptions,
): Promise<ChatMeasurement> {
  // Fresh users and organization per run: nothing replays from an earlier run on the same server.
  const tag = `${ctx.runId}${randomBytes(3).toString('hex')}`;
  const org = `org-${tag}`;
  const specs = Array.from({ length: opts.conversations }, (_, c) => ({
    conversationId: randomUUID(),
    members: Array.from({ length: opts.membersPer }, (_, m) => `u${tag}c${c}m${m}`),
  }));
  const nLoaders = Math.max(1, Math.min(ctx.chatLoaders, specs.length));
  const loaders = startLoaders(nLoaders);
  const failures: string[] = [];
  const dbNames = [...new Set(servers.map((s) => s.databaseName).filter((n): n is string => !!n))];
  let pgPids: number[] = [];
  const refreshPg = async () => {
    const lists = await Promise.all(
      dbNames.map((d) => postgresBackendPids(d).catch(() => [] as number[])),
    );
    pgPids = lists.flat();
  };
  const redisPids = opts.countRedis ? pidsByComm('redis-server') : [];
  const serverCpu = new CpuMeter(() => [
    ...servers.map((s) => s.pid),
    ...(opts.extraServerPids ?? []),
  ]);
  const pgCpu = new CpuMeter(() => pgPids);
  const redisCpu = new CpuMeter(() => redisPids);
  const rss = new RssSampler(() => servers.map((s) => s.pid));
  const progress = ctx.progress;
  const total = () => loaders.reduce((n, l) => n + l.count, 0);
  try {
    await Promise.all(
      loaders.map((l, i) =>
        l.request('chat:setup', {
          targets: opts.targets ?? servers.map((s) => s.url),
          secret: ctx.secret,
          organizationId: org,
          conversations: specs.filter((_, c) => c % nLoaders === i),
          contentChars: opts.contentChars,
          strictOrder: !opts.tolerateReorder,
        }),
      ),
    );
    const mode: SendMode =
      opts.mode.mode === 'paced'
        ? { mode: 'paced', ratePerSec: opts.mode.ratePerSec / nLoaders }
        : opts.mode;
    await all(loaders, 'chat:start', mode);
    const warmEnd = Date.now() + opts.warmupMs;
    while (Date.now() < warmEnd) {
      progress.update(
        `[${opts.label}] warm-up ${((opts.warmupMs - (warmEnd - Date.now())) / 1000).toFixed(1)}/${opts.warmupMs / 1000}s acked ${total()}`,
      );
      await sleep(250);
    }
    await refreshPg();
    serverCpu.begin();
    pgCpu.begin();
    redisCpu.begin();
    rss.begin();
    // Also resets the event-loop delay histogram: the second scrape covers the window.
    const before = await scrapeServer(servers[0].url);
    await all(loaders, 'chat:measure');
    const t0 = Date.now();
    const base = total();
    const pollPg = setInterval(() => void refreshPg().then(() => pgCpu.poll()), 1000);
    while (Date.now() - t0 < opts.durationMs) {
      const el = (Date.now() - t0) / 1000;
      const n = total() - base;
      progress.update(
        `[${opts.label}] measuring ${el.toFixed(1)}/${opts.durationMs / 1000}s acked ${n} (${Math.round(n / Math.max(el, 0.001))}/s)`,
      );
      await sleep(250);
      serverCpu.poll();
      redisCpu.poll();
    }
    clearInterval(pollPg);
    await refreshPg();
    const sCpu = serverCpu.end();
    const pCpu = pgCpu.end();
    const rCpu = redisCpu.end();
    const mem = rss.end();
    const after = await scrapeServer(servers[0].url);
    const results = await all(loaders, 'chat:stop', { drainTimeoutMs: 15_000 });
    progress.done();
    const acked = results.reduce((n, r) => n + r.acked, 0);
    const windowMs = Math.max(...results.map((r) => r.windowMs));
    for (const r of results) {
      if (r.lostDeliveries > 0)
        failures.push(
          `${opts.label}: ${r.lostDeliveries} deliveries of acked messages never arrived`,
        );
      if (r.orderViolations > 0)
        failures.push(
          `${opts.label}: ${r.orderViolations} out-of-order, duplicate or foreign messages`,
        );
      if (r.nacks > 0) failures.push(`${opts.label}: ${r.nacks} sends refused`);
      if (r.ackTimeouts > 0) failures.push(`${opts.label}: ${r.ackTimeouts} acks timed out`);
      for (const e of r.errors.slice(0, 5)) failures.push(`${opts.label}: ${e}`);
    }
    const cpuSec = sCpu + pCpu + rCpu;
    return {
      ackedPerSec: Math.round((acked / windowMs) * 1000),
      acked,
      windowMs,
      ack: summarize(merge(results.map((r) => r.ackHist))),
      delivery: summarize(merge(results.map((r) => r.deliveryHist))),
      serverCpuSec: sCpu,
      pgCpuSec: pCpu,
      redisCpuSec: rCpu,
      cpuPerMsgUs: acked > 0 ? Math.round((cpuSec / acked) * 1e6) : NaN,
      serverCores: Math.round((sCpu / (windowMs / 1000)) * 100) / 100,
      rssMiB: Math.round(mem.median / 2 ** 20),
      scheduleLagMs: Math.max(...results.map((r) => r.scheduleLagMs)),
      serverP50Ms: windowPercentileMs(before?.sendHistogram, after?.sendHistogram, 0.5),
      serverP99Ms: windowPercentileMs(before?.sendHistogram, after?.sendHistogram, 0.99),
      runtime:
        before && after
          ? {
              gcMs: Math.round((after.runtime.gcSeconds - before.runtime.gcSeconds) * 1000),
              gcCount: after.runtime.gcCount - before.runtime.gcCount,
              loopLateP99Ms: late(after.runtime.loopP99Ms, after.runtime.loopMinMs),
              loopLateMaxMs: late(after.runtime.loopMaxMs, after.runtime.loopMinMs),
            }
          : null,
      reordered: results.reduce((n, r) => n + r.reordered, 0),
      skipped: results.reduce((n, r) => n + r.skipped, 0),
      failures,
    };
  } finally {
    progress.done();
    await closeLoaders(loaders);
  }
}
