/**
 * HAProxy in front of server nodes, from the shipped `deploy/haproxy.cfg`: renders the config with
 * the nodes' ports (the lines tagged `# @…` in that file), starts `haproxy -db` as a child, talks
 * to its runtime API (admin socket) and keeps its access log. Used by `npm run cluster -- --lb`
 * (from dist/), the load-balancer tests (test/lb/) and the bench's HAProxy scenario.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface LbServer {
  /** Server (and cookie) name: `node-1`… */
  name: string;
  host: string;
  port: number;
}

export interface HaproxyOptions {
  /** Address and port clients connect to. */
  host?: string;
  port: number;
  servers: LbServer[];
  /** The read-only status page (0 or absent: none). */
  statsPort?: number;
  /** Health-check period (ms); the shipped 1 s when absent. */
  checkIntervalMs?: number;
  /** Own process group (a terminal's Ctrl-C does not reach it; the caller stops it). */
  detached?: boolean;
  /** Global maxconn; absent: the shipped value, lowered to what `ulimit -n` allows. */
  maxconn?: number;
}

/** The open-files limit this process's children inherit (`ulimit -n`), or null if unknown. */
function openFilesLimit(): number | null {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return r.status === 0 && Number.isFinite(n) ? n : null;
}

/** `deploy/haproxy.cfg`, found from the sources (scripts/) or the build (dist/scripts/). */
export function haproxyTemplatePath(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'deploy', 'haproxy.cfg');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('deploy/haproxy.cfg not found');
}

function replaceTagged(text: string, tag: string, replacement: string): string {
  const re = new RegExp(`^.*# @${tag}\\s*$`, 'm');
  if (!re.test(text)) throw new Error(`deploy/haproxy.cfg: no line tagged # @${tag}`);
  return text.replace(re, replacement);
}

/** The shipped config with this deployment's addresses; throws when a tag is missing. */
export function renderHaproxyConfig(
  template: string,
  o: HaproxyOptions & { adminSocket: string },
): string {
  let cfg = replaceTagged(template, 'bind', `    bind ${o.host ?? '127.0.0.1'}:${o.port}`);
  cfg = replaceTagged(
    cfg,
    'admin-socket',
    `    stats socket ${o.adminSocket} mode 600 level admin`,
  );
  const begin = cfg.indexOf('# @servers-begin');
  const end = cfg.indexOf('# @servers-end');
  if (begin < 0 || end < begin) throw new Error('deploy/haproxy.cfg: no # @servers block');
  const lines = o.servers.map((s) => `    server ${s.name} ${s.host}:${s.port} cookie ${s.name}`);
  cfg = `${cfg.slice(0, begin)}# @servers-begin\n${lines.join('\n')}\n    ${cfg.slice(end)}`;
  const shipped = /^\s*maxconn (\d+)\s*# @maxconn\s*$/m.exec(cfg);
  if (!shipped) throw new Error('deploy/haproxy.cfg: no line tagged # @maxconn');
  const fds = openFilesLimit();
  const maxconn =
    o.maxconn ??
    Math.min(Number(shipped[1]), fds === null ? Infinity : Math.floor((fds - 200) / 2));
  cfg = replaceTagged(cfg, 'maxconn', `    maxconn ${maxconn}`);
  if (o.checkIntervalMs !== undefined) {
    const m = /^.*# @default-server\s*$/m.exec(cfg);
    if (!m) throw new Error('deploy/haproxy.cfg: no line tagged # @default-server');
    cfg = cfg.replace(m[0], m[0].replace(/\binter \S+/, `inter ${o.checkIntervalMs}ms`));
  }
  if (o.statsPort) cfg = replaceTagged(cfg, 'stats-bind', `    bind 127.0.0.1:${o.statsPort}`);
  else cfg = cfg.slice(0, cfg.indexOf('# Status page')).trimEnd() + '\n';
  return cfg;
}

/** True when the `haproxy` binary runs. */
export function haproxyAvailable(): boolean {
  const r = spawnSync('haproxy', ['-v'], { stdio: 'ignore' });
  return r.status === 0;
}

/** One line of `show stat` for a server of the `nodes` backend. */
export interface ServerStat {
  name: string;
  /** UP, DOWN, DRAIN, MAINT, `UP 1/2` (going down)… */
  status: string;
  /** Current sessions. */
  scur: number;
  /** Sessions since start. */
  stot: number;
  /** Last check: e.g. L7OK, L7STS, L4CON. */
  checkStatus: string;
  checkCode: string;
  /** Failed health checks since start. */
  checkFailures: number;
}

export interface Haproxy {
  url: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  /** Access-log lines written so far (stdout), and stderr (warnings, alerts). */
  log: string[];
  stderr: string[];
  configPath: string;
  /** A runtime API command (`show stat`, `set server nodes/node-1 state drain`…). */
  admin(command: string): Promise<string>;
  servers(): Promise<ServerStat[]>;
  /** Polls `show stat` until `pred` holds (bounded). */
  waitForServers(
    pred: (s: ServerStat[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<ServerStat[]>;
  /** SIGTERM (hard stop: open connections are closed), waits for the exit, removes the temp dir. */
  stop(): Promise<void>;
}

/** Renders the config, checks it (`haproxy -c`), starts `haproxy -db` and waits for its port. */
export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'wcr-haproxy-'));
  const adminSocket = join(dir, 'admin.sock');
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(
    configPath,
    renderHaproxyConfig(readFileSync(haproxyTemplatePath(), 'utf8'), { ...o, adminSocket }),
  );
  const check = spawnSync('haproxy', ['-c', '-q', '-f', configPath], { encoding: 'utf8' });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`haproxy -c refused the config: ${check.stderr || check.stdout}`);
  }
  const proc = spawn('haproxy', ['-db', '-f', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached ?? false,
  });
  const log: string[] = [];
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
  proc.stdout.on('data', collect(log));
  proc.stderr.on('data', collect(stderr));
  const exited = once(proc, 'exit');
  const host = o.host ?? '127.0.0.1';

  const admin = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(adminSocket);
      let out = '';
      s.setTimeout(5000, () => s.destroy(new Error(`haproxy admin: ${command} timed out`)));
      s.on('connect', () => s.end(`${command}\n`));
      s.on('data', (c) => (out += c.toString('utf8')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });

  const servers = async (): Promise<ServerStat[]> => {
    const csv = await admin('show stat');
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const cols = header.split(',');
    const at = (row: string[], name: string) => row[cols.indexOf(name)] ?? '';
    return rows
      .map((r) => r.split(','))
      .filter((r) => at(r, 'pxname') === 'nodes' && !['BACKEND', 'FRONTEND'].includes(r[1]))
      .map((r) => ({
        name: at(r, 'svname'),
        status: at(r, 'status'),
        scur: Number(at(r, 'scur')),
        stot: Number(at(r, 'stot')),
        checkStatus: at(r, 'check_status'),
        checkCode: at(r, 'check_code'),
        checkFailures: Number(at(r, 'chkfail')),
      }));
  };

  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`haproxy exited at start: ${stderr.join(' | ')}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(o.port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up && existsSync(adminSocket)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not listen on ${host}:${o.port}: ${stderr.join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url: `http://${host}:${o.port}`,
    port: o.port,
    pid: proc.pid!,
    proc,
    log,
    stderr,
    configPath,
    admin,
    servers,
    async waitForServers(pred, timeoutMs, what) {
      const until = Date.now() + timeoutMs;
      let last: ServerStat[] = [];
      for (;;) {
        try {
          last = await servers();
          if (pred(last)) return last;
        } catch {
          // socket not ready yet
        }
        if (Date.now() > until)
          throw new Error(
            `haproxy: ${what} not reached in ${timeoutMs} ms (${last.map((s) => `${s.name} ${s.status}`).join(', ')})`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
  };
}

/** One parsed access-log line (the `log-format` of deploy/haproxy.cfg). */
export interface AccessLogLine {
  server: string;
  status: number;
  method: string;
  path: string;
  /** First 8 characters of the Engine.IO session id, '-' when the request had none. */
  sid: string;
}

export function parseAccessLog(lines: string[]): AccessLogLine[] {
  const out: AccessLogLine[] = [];
  const re = /\snodes\/(\S+) \S+ (-?\d+) \S+ \S+ (\S+) (\S+) sid=(\S*)$/;
  for (const line of lines) {
    const m = re.exec(line);
    if (m)
      out.push({ server: m[1], status: Number(m[2]), method: m[3], path: m[4], sid: m[5] || '-' });
  }
  return out;
}
