/**
 * Groups the small statements a connect storm repeats once per socket (member upserts, replay
 * lookups) into one multi-row statement, the way MessageWriter groups message inserts: items
 * that arrive within `windowMs` of the first (or until `maxItems`) are handed to `run` together,
 * and each caller gets its own result. One connection waits at most `windowMs` more; a storm of
 * n connections costs about n / maxItems statements instead of n. A failing batch fails each of
 * its callers (they handle it as they handled their own statement failing).
 */
export class MicroBatcher<I, O> {
  private items: I[] = [];
  private waiters: Array<{ resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private timer?: NodeJS.Timeout;

  constructor(
    /** Results in the order of `items`, one each. */
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly windowMs = 3,
    private readonly maxItems = 200,
  ) {}

  load(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.items.push(item);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.maxItems) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    if (items.length === 0) return;
    this.run(items).then(
      (results) => waiters.forEach((w, i) => w.resolve(results[i])),
      (err: unknown) => waiters.forEach((w) => w.reject(err)),
    );
  }
}
