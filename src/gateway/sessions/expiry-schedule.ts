/** setTimeout's delay is a signed 32-bit number of ms; longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2_147_000_000;

/**
 * Deadlines of many items on one timer: items are kept in a set per deadline (ms), and one
 * unref'd Timeout is armed for the earliest deadline. An idle connection then costs one set
 * entry instead of a Timeout, a closure and its context (≈ 300 bytes each at 19,000 sockets).
 * Token `exp` is in whole seconds, so sockets share deadlines and the sets stay few.
 *
 * The caller knows each item's deadline (it derives it from the item), so removal takes it as
 * an argument and nothing per item is stored besides the set entry.
 */
export class ExpirySchedule<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Deadlines that have a bucket, ascending. */
  private readonly deadlines: number[] = [];
  private timer?: NodeJS.Timeout;
  private armedFor = Infinity;

  /**
   * @param onDue called once per item whose deadline passed (never for removed items)
   * @param now the clock (tests)
   */
  constructor(
    private readonly onDue: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    let n = 0;
    for (const set of this.buckets.values()) n += set.size;
    return n;
  }

  add(item: T, deadlineMs: number): void {
    let set = this.buckets.get(deadlineMs);
    if (!set) {
      this.buckets.set(deadlineMs, (set = new Set<T>()));
      this.deadlines.splice(this.insertionIndex(deadlineMs), 0, deadlineMs);
    }
    set.add(item);
    if (deadlineMs < this.armedFor) this.arm();
  }

  delete(item: T, deadlineMs: number): void {
    const set = this.buckets.get(deadlineMs);
    if (!set || !set.delete(item) || set.size > 0) return;
    this.buckets.delete(deadlineMs);
    const i = this.insertionIndex(deadlineMs);
    if (this.deadlines[i] === deadlineMs) this.deadlines.splice(i, 1);
    // The timer may stay armed for a deadline that is gone: it fires, finds nothing due, re-arms.
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.buckets.clear();
    this.deadlines.length = 0;
  }

  /** First index whose deadline is ≥ the given one. */
  private insertionIndex(deadlineMs: number): number {
    let lo = 0;
    let hi = this.deadlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.deadlines[mid] < deadlineMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.deadlines[0];
    this.armedFor = next ?? Infinity;
    if (next === undefined) return;
    const delay = Math.max(0, Math.min(next - this.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // A timer may fire a few ms early; treat deadlines within 5 ms as due (as a lone timer did).
    const dueBy = this.now() + 5;
    while (this.deadlines.length > 0 && this.deadlines[0] <= dueBy) {
      const deadline = this.deadlines.shift()!;
      const set = this.buckets.get(deadline);
      this.buckets.delete(deadline);
      for (const item of set ?? []) this.onDue(item);
    }
    this.arm();
  }
}
