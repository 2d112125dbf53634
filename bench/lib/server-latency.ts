/**
 * Server-side `message:send` latency (receipt → ack) from our server's Prometheus histogram
 * `realtime_event_duration_seconds`, over a window: the difference of two scrapes. It separates
 * the server's share of the ack latency from the loaders' (which share the machine's two cores).
 * The baseline has no /metrics: null.
 */
export type HistogramScrape = Map<number, number>;

export async function scrapeSendHistogram(url: string): Promise<HistogramScrape | null> {
  try {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) return null;
    const out: HistogramScrape = new Map();
    for (const line of (await res.text()).split('\n')) {
      if (!line.startsWith('realtime_event_duration_seconds_bucket{')) continue;
      if (!line.includes('event="message:send"')) continue;
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le === undefined) continue;
      out.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return out.size > 0 ? out : null;
  } catch {
    return null;
  }
}

/** The bucket bound (ms) under which `q` of the window's events fall: an upper bound on that percentile. */
export function windowPercentileMs(
  before: HistogramScrape | null,
  after: HistogramScrape | null,
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

/** GC pauses and event-loop delay of our server (prom-client default metrics), for the notes. */
export interface RuntimeScrape {
  gcSeconds: number;
  gcCount: number;
  loopP99Ms: number | null;
  loopMaxMs: number | null;
}

export async function scrapeRuntime(url: string): Promise<RuntimeScrape | null> {
  try {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) return null;
    let gcSeconds = 0;
    let gcCount = 0;
    let loopP99Ms: number | null = null;
    let loopMaxMs: number | null = null;
    for (const line of (await res.text()).split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('nodejs_gc_duration_seconds_sum{')) gcSeconds += value;
      else if (line.startsWith('nodejs_gc_duration_seconds_count{')) gcCount += value;
      else if (line.startsWith('nodejs_eventloop_lag_p99_seconds ')) loopP99Ms = value * 1000;
      else if (line.startsWith('nodejs_eventloop_lag_max_seconds ')) loopMaxMs = value * 1000;
    }
    return { gcSeconds, gcCount, loopP99Ms, loopMaxMs };
  } catch {
    return null;
  }
}
