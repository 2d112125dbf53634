/** Forks loader worker processes and talks to them over IPC (one reply per request). */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LoaderCommand, LoaderMessage, LoaderReplies, LoaderRequest } from './ipc.js';
import { ROOT } from './servers.js';

type ArgsOf<C extends LoaderCommand> =
  Extract<LoaderRequest, { cmd: C }> extends { args: infer A } ? A : undefined;

export class Loader {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  /** Latest progress count reported by the worker. */
  count = 0;
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: LoaderMessage) => {
      if ('progress' in m) {
        this.count = m.count;
        return;
      }
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(m.error));
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        for (const w of this.waiting.values())
          w.reject(new Error(`loader ${proc.pid} exited (${code ?? signal})`));
        this.waiting.clear();
        resolve();
      });
    });
  }

  request<C extends LoaderCommand>(
    cmd: C,
    ...rest: ArgsOf<C> extends undefined ? [] : [ArgsOf<C>]
  ): Promise<LoaderReplies[C]> {
    const id = this.nextId++;
    const msg = (rest.length > 0 ? { id, cmd, args: rest[0] } : { id, cmd }) as LoaderRequest;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await this.request('close').catch(() => undefined);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

export function startLoaders(n: number): Loader[] {
  return Array.from(
    { length: n },
    () =>
      new Loader(
        fork(join(ROOT, 'dist/bench/loader.js'), [], {
          cwd: ROOT,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          execArgv: ['--max-old-space-size=2048'],
        }),
      ),
  );
}

export async function closeLoaders(loaders: Loader[]): Promise<void> {
  await Promise.all(loaders.map((l) => l.close()));
}

export function all<C extends LoaderCommand>(
  loaders: Loader[],
  cmd: C,
  ...rest: ArgsOf<C> extends undefined ? [] : [ArgsOf<C>]
): Promise<Array<LoaderReplies[C]>> {
  return Promise.all(loaders.map((l) => l.request(cmd, ...rest)));
}

/**
 * A storm's warm-up (excluded from its figures): 100 sockets of another organization (`ow<tag>`),
 * every other one a parent, connect and stay, so the storm runs warm code on the server.
 */
export async function stormWarmUp(
  loader: Loader,
  target: string,
  secret: string,
  tag: string,
): Promise<void> {
  await loader.request('idle:connect', {
    target,
    secret,
    users: Array.from({ length: 100 }, (_, i) => ({
      userId: `w${tag}${i}`,
      organizationId: `ow${tag}`,
      role: i % 2 === 0 ? 'parent' : 'staff',
    })),
    concurrency: 20,
    listenAlerts: false,
    deadlineMs: 60_000,
  });
}
