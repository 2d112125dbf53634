/** Where the throttled lines go (a pino logger's `warn`/`error`, bound). */
export type LogSink = (fields: Record<string, unknown>, msg: string) => void;

interface KindState {
  /** When the last line of this kind was written. */
  loggedAt: number;
  /** Reports since then that were not written. */
  suppressed: number;
  timer?: NodeJS.Timeout;
  sink: LogSink;
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * A failing dependency is logged at most once per kind per window (5 s) per node (§12.8): the
 * first report of a kind is written at once, later ones within the window are counted, and when
 * the window ends with reports counted one more line says how many (`suppressed`). An outage of a
 * minute writes about twelve lines per kind, not thousands. Kinds are a small fixed set chosen by
 * the callers (`database:storage`, `redis:rate-limit`, …), never derived from data.
 */
export class ThrottledLog {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    readonly windowMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes `msg` with `fields` (plus `kind`) unless this kind was written within the window. */
  report(kind: string, sink: LogSink, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const s = this.kinds.get(kind);
    if (s && t - s.loggedAt < this.windowMs) {
      s.suppressed++;
      s.sink = sink;
      s.fields = fields;
      s.msg = msg;
      s.timer ??= this.summaryTimer(kind, s.loggedAt + this.windowMs - t);
      return;
    }
    if (s?.timer) clearTimeout(s.timer);
    this.kinds.set(kind, { loggedAt: t, suppressed: 0, sink, fields, msg });
    sink({ ...fields, kind }, msg);
  }

  /** Reports counted but not written yet, per kind (for tests and metrics). */
  pending(kind: string): number {
    return this.kinds.get(kind)?.suppressed ?? 0;
  }

  /** At the end of a window with suppressed reports: one line with the count; starts a new window. */
  private summaryTimer(kind: string, delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        const s = this.kinds.get(kind);
        if (!s || s.timer !== timer) return;
        const n = s.suppressed;
        s.timer = undefined;
        s.suppressed = 0;
        s.loggedAt = this.now();
        s.sink({ ...s.fields, kind, suppressed: n }, `${s.msg} (${n} more suppressed)`);
      },
      Math.max(0, delayMs),
    );
    timer.unref();
    return timer;
  }

  close(): void {
    for (const s of this.kinds.values()) if (s.timer) clearTimeout(s.timer);
    this.kinds.clear();
  }
}
