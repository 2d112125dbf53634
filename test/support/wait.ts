/**
 * Waiting without sleeping and hoping: poll a condition with a deadline, fail naming what did not
 * happen. (Socket events have their own event-driven waits: `waitFor` and `Recorder.until` in
 * client.ts.)
 */
/** How often a condition is polled. */
export const POLL_MS = 50;
/** A bound for a loaded 2-core CI machine, not an expectation of how long things take. */
export const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * `eventually(check, timeoutMs, what)`: resolves once `check()` returns true; an error it throws
 * fails the wait at once.
 *
 * `eventually(read, accept, timeoutMs, what)`: resolves with the first value of `read()` that
 * `accept` takes (`defined`: the first one that is not `undefined`); a `read` that throws counts as "not yet" (a node still starting, a connection
 * being re-established), and the last value or error is named when the wait fails.
 */
export function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs?: number,
  what?: string,
): Promise<void>;
export function eventually<T, S extends T>(
  read: () => T | Promise<T>,
  accept: (value: T) => value is S,
  timeoutMs?: number,
  what?: string,
): Promise<S>;
export function eventually<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs?: number,
  what?: string,
): Promise<T>;
export async function eventually<T>(
  fn: () => T | boolean | Promise<T | boolean>,
  ...rest: [number?, string?] | [(value: T) => boolean, number?, string?]
): Promise<T | void> {
  if (typeof rest[0] === 'function') {
    const [accept, timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition'] = rest as [
      (value: T) => boolean,
      number?,
      string?,
    ];
    const deadline = Date.now() + timeoutMs;
    let last: string = 'nothing read';
    for (;;) {
      try {
        const value = (await fn()) as T;
        if (accept(value)) return value;
        last = `last value ${JSON.stringify(value)}`;
      } catch (err) {
        last = `last error ${(err as Error).message}`;
      }
      if (Date.now() > deadline)
        throw new Error(`${what} not reached within ${timeoutMs} ms (${last})`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
  const [timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition'] = rest as [number?, string?];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** `accept` for a `read` that returns `undefined` until the thing looked for is there. */
export const defined = <T>(value: T | undefined): value is T => value !== undefined;

/**
 * `stays(check, forMs, what)`: the "never happens" wait — `check()` must hold at every poll for
 * `forMs` (the last poll at or after the end); the first poll where it does not fails at once,
 * naming `what`. Only for what nothing event-driven can prove (for socket events `settle` in
 * client.ts can: the server answers a ping only after what it emitted before).
 */
export async function stays(
  check: () => boolean | Promise<boolean>,
  forMs: number,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  const end = start + forMs;
  for (;;) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${Date.now() - start} ms`);
    const left = end - Date.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, left)));
  }
}
