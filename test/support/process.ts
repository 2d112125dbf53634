import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts `node dist/src/main.js` (what `npm start` runs after building) with the given env. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const proc = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (into: string[]) => {
    let buf = '';
    return (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      into.push(...lines.filter(Boolean));
    };
  };
  proc.stdout.on('data', collect(stdout));
  proc.stderr.on('data', collect(stderr));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  const port = Number(env.PORT ?? 3000);
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout,
    stderr,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Starts a server process on a free port and waits until /health answers. */
export async function startServerProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const sp = spawnServer({ ...env, PORT: String(port) });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (sp.proc.exitCode !== null) throw new Error(`server exited early: ${sp.stderr.join('\n')}`);
    try {
      const res = await fetch(`${sp.url}/health`);
      if (res.ok) return sp;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await sp.stop('SIGKILL');
  throw new Error(`server did not become healthy: ${sp.stderr.join('\n')}`);
}
