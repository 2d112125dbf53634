import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './process.js';

/** Runs as the `postgres` user when the tests run as root (PostgreSQL refuses to run as root). */
function asPostgres(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/**
 * A PostgreSQL server of the test's own (initdb in a temp directory, trust auth, a free port,
 * fsync off), so a fault test can stop, kill and restart it without touching the shared one on
 * 5432. The postmaster runs in the foreground as our child: we signal only its PID.
 */
export class OwnPostgres {
  private proc?: ChildProcess;
  private readonly user = asPostgres();

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'wcr-pg-'));
    const p = new OwnPostgres(await freePort(), dir);
    if (p.user.uid !== undefined) chownSync(dir, p.user.uid, p.user.gid!);
    execFileSync(
      'initdb',
      ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'],
      {
        ...p.user,
        stdio: 'ignore',
      },
    );
    await p.up();
    return p;
  }

  /** The admin URL (database `postgres`). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** A URL for another database on this server. */
  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts (again) on the same port and data directory; resolves once it answers queries. */
  async up(timeoutMs = 20_000): Promise<void> {
    this.proc = spawn(
      'postgres',
      [
        '-D',
        join(this.dir, 'data'),
        '-p',
        String(this.port),
        '-k',
        this.dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=100',
      ],
      { ...this.user, stdio: 'ignore' },
    );
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null)
        throw new Error(`postgres exited with ${this.proc.exitCode}`);
      const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    throw new Error('postgres did not start');
  }

  /**
   * Stops it: `fast` (SIGINT: open connections are cut, as in a restart) or `immediate`
   * (SIGQUIT: no shutdown checkpoint, as in a crash); waits for the postmaster to exit.
   */
  async down(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    this.resume(); // a paused server would not act on the signal
    p.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await once(p, 'exit');
  }

  /**
   * Freezes the whole server (SIGSTOP to the postmaster, then to every backend and worker it
   * started): connections stay open and nothing answers, as in a hung host or a network black
   * hole. New connections queue in the kernel unanswered.
   */
  pause(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGSTOP');
  }

  /** Lets a paused server run again (a no-op when it runs). */
  resume(): void {
    for (const pid of this.processes()) process.kill(pid, 'SIGCONT');
  }

  /** The postmaster and its children (backends, checkpointer, walwriter…), postmaster first. */
  private processes(): number[] {
    const pid = this.proc?.pid;
    if (pid === undefined || this.proc?.exitCode !== null) return [];
    let children: number[] = [];
    try {
      children = execFileSync('pgrep', ['-P', String(pid)])
        .toString()
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      // pgrep exits 1 when there is no child.
    }
    return [pid, ...children];
  }

  /** Stops it and removes its data directory. */
  async destroy(): Promise<void> {
    await this.down('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
