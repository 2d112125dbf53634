/**
 * What our server reports about itself over a measurement window, from two scrapes of its
 * Prometheus `/metrics`: the `message:send` latency histogram (receipt → ack), which separates
 * the server's share of the ack latency from the loaders' (they share the machine's two cores),
 * and prom-client's GC and event-loop delay figures. The baseline has no /metrics: null.
 */
export type HistogramScrape = Map<number, number>;

/**
 * GC pauses and event-loop delay (prom-client default metrics). The delay histogram records whole
 * sampling intervals (20 ms in our server), so the lateness is a percentile minus the minimum.
 */
export interface RuntimeScrape {
  gcSeconds: number;
  gcCount: number;
  loopP99Ms: number | null;
  loopMaxMs: number | null;
  loopMinMs: number | null;
}

export interface ServerScrape {
  sendHistogram: HistogramScrape | null;
  runtime: RuntimeScrape;
}

/** One scrape (it also resets prom-client's event-loop delay histogram). */
export async function scrapeServer(url: string): Promise<ServerScrape | null> {
  try {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) return null;
    const hist: HistogramScrape = new Map();
    const runtime: RuntimeScrape = {
      gcSeconds: 0,
      gcCount: 0,
      loopP99Ms: null,
      loopMaxMs: null,
      loopMinMs: null,
    };
    for (const line of (await res.text()).split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('realtime_event_duration_seconds_bucket{')) {
        if (!line.includes('event="message:send"')) continue;
        const le = /le="([^"]+)"/.exec(line)?.[1];
        if (le !== undefined) hist.set(le === '+Inf' ? Infinity : Number(le), value);
      } else if (line.startsWith('nodejs_gc_duration_seconds_sum{')) runtime.gcSeconds += value;
      else if (line.startsWith('nodejs_gc_duration_seconds_count{')) runtime.gcCount += value;
      else if (line.startsWith('nodejs_eventloop_lag_p99_seconds '))
        runtime.loopP99Ms = value * 1000;
      else if (line.startsWith('nodejs_eventloop_lag_max_seconds '))
        runtime.loopMaxMs = value * 1000;
      else if (line.startsWith('nodejs_eventloop_lag_min_seconds '))
        runtime.loopMinMs = value * 1000;
    }
    return { sendHistogram: hist.size > 0 ? hist : null, runtime };
  } catch {
    return null;
  }
}

/** The bucket bound (ms) under which `q` of the window's events fall: an upper bound on that percentile. */
export function windowPercentileMs(
  before: HistogramScrape | null | undefined,
  after: HistogramScrape | null | undefined,
  q: number,
): number | null {
  if (!before || !after) return null;
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const le of bounds) {
    const n = (after.get(le) ?? 0) - (before.get(le) ?? 0);
    if (n >= q * total) return le === Infinity ? null : le * 1000;
  }
  return null;
}
