/**
 * A cache bounded by an estimate of the bytes it holds, not by its number of entries (§12.3): a
 * 500-participant conversation weighs a hundred times a small one, so a count limit let a flood
 * of large conversations grow the heap without bound. Oldest entries go first (insertion order,
 * as Map keeps it); an entry larger than the whole budget is not kept at all.
 */
export class ByteBudgetCache<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes) return;
    while (this.total + bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, { value, bytes });
    this.total += bytes;
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.bytes;
  }

  /** Estimated bytes held now (never above `maxBytes`). */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Heap bytes of a string, over-estimated: V8's header plus two bytes per character (strings of
 * non-Latin-1 text are two-byte), rounded up to a word.
 */
export function stringBytes(s: string | null | undefined): number {
  if (s === null || s === undefined) return 0;
  return 16 + Math.ceil((s.length * 2) / 8) * 8;
}
