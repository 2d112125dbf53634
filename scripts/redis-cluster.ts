/**
 * A local Redis Cluster of its own (default: 3 masters + 1 replica each = 6 processes) on free
 * ports in a temporary directory, for tests, benchmarks and trying cluster mode by hand:
 *
 *   const c = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
 *   REDIS_CLUSTER_NODES = c.seeds            // "127.0.0.1:p1,127.0.0.1:p2,…"
 *   await c.killMaster(0);                   // SIGKILL a master, wait until its replica took over
 *   await c.stop();
 *
 * or `node dist/scripts/redis-cluster.js [--masters 3] [--replicas 1] [--password pw [--user name]]`
 * (prints the seeds, Ctrl-C stops it). With `password` every node requires it (`requirepass`;
 * replicas authenticate to their master with `masterauth`); with `username` too, an ACL user of
 * that name and password gets every permission (what REDIS_USERNAME/REDIS_PASSWORD name). Every wait is bounded by a deadline and polls the real state (`CLUSTER INFO`,
 * `ROLE`); nothing sleeps and hopes. Never touches any other redis-server (only the PIDs it started).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface RedisClusterNode {
  port: number;
  pid: number;
  /** Role when last looked at (after start, after killMaster). */
  role: 'master' | 'replica';
  /** False once killed. */
  alive: boolean;
}

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  host?: string;
  /** cluster-node-timeout: how long before a silent master is failed over (default 1000 ms). */
  nodeTimeoutMs?: number;
  /** Bound for every wait (start, failover), default 30 s. */
  timeoutMs?: number;
  redisServer?: string;
  redisCli?: string;
  /**
   * Protect every node: `requirepass` (the `default` user's password) and `masterauth`, so
   * replicas can sync. The starter's own redis-cli calls authenticate as `default`.
   */
  password?: string;
  /** With `password`: also an ACL user of this name with that password and every permission. (Both printable ASCII, no spaces.) */
  username?: string;
}

export interface KillResult {
  /** The port of the master that was killed. */
  killed: number;
  /** Date.now() once the killed process had exited. */
  killedAt: number;
  /** The port of its replica that took over. */
  promoted: number;
  /** Date.now() when the promotion was seen (ROLE polled every 100 ms: at most that late). */
  promotedAt: number;
}

export interface LocalRedisCluster {
  /** "host:port,host:port,…" of every node (the REDIS_CLUSTER_NODES value). */
  seeds: string;
  nodes: RedisClusterNode[];
  dir: string;
  /** The live masters, ordered by port. */
  masters(): RedisClusterNode[];
  /**
   * SIGKILLs the i-th live master (by port order) and waits until one of its replicas is master
   * and every surviving node reports `cluster_state:ok`.
   */
  killMaster(i: number): Promise<KillResult>;
  /** The index (in `masters()`) of the live master that owns `key`'s slot. */
  masterIndexOf(key: string): Promise<number>;
  /** Waits until every live node reports `cluster_state:ok` and knows its role. */
  waitHealthy(): Promise<void>;
  /** Kills every process it started and removes the temp directory. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function run(
  cmd: string,
  args: string[],
  timeoutMs = 5000,
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, env: { ...process.env, ...env } };
    execFile(cmd, args, options, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    });
  });
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`redis cluster: ${what} not reached within ${timeoutMs} ms ${last}`.trim());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Parses "key:value\r\n" lines (INFO, CLUSTER INFO). */
function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export async function startRedisCluster(o: RedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const masters = o.masters ?? 3;
  const replicas = o.replicasPerMaster ?? 1;
  const host = o.host ?? '127.0.0.1';
  const timeoutMs = o.timeoutMs ?? 30_000;
  const server = o.redisServer ?? 'redis-server';
  const cli = o.redisCli ?? 'redis-cli';
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  if (o.username !== undefined && o.password === undefined)
    throw new Error('redis cluster: a username needs a password');
  if ([o.password, o.username].some((v) => v !== undefined && !/^[\x21-\x7e]+$/.test(v)))
    throw new Error('redis cluster: username and password must be printable without spaces');
  const total = masters * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'wcr-redis-cluster-'));
  const procs = new Map<number, ChildProcess>();
  const nodes: RedisClusterNode[] = [];

  // The password goes to redis-cli through its environment (REDISCLI_AUTH), not argv.
  const auth: Record<string, string> =
    o.password === undefined ? {} : { REDISCLI_AUTH: o.password };
  const cliAt = (port: number, ...args: string[]) =>
    run(cli, ['-h', host, '-p', String(port), ...args], 5000, auth);
  // In a config file of the temp directory (owner-only), not on the command line.
  const security: string[] = [];
  if (o.password !== undefined) {
    const conf = join(dir, 'auth.conf');
    const lines = [`requirepass ${o.password}`, `masterauth ${o.password}`];
    if (o.username !== undefined) lines.push(`user ${o.username} on >${o.password} ~* &* +@all`);
    writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
    security.push(conf);
  }

  const stop = async () => {
    await Promise.all(
      [...procs.values()].map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = once(p, 'exit');
        p.kill('SIGKILL');
        await exited;
      }),
    );
    for (const n of nodes) n.alive = false;
    rmSync(dir, { recursive: true, force: true });
  };

  const refreshRoles = async () => {
    for (const n of nodes.filter((x) => x.alive)) {
      const role = (await cliAt(n.port, 'role')).split('\n')[0].trim();
      n.role = role === 'master' ? 'master' : 'replica';
    }
  };

  const waitHealthy = async () => {
    const live = nodes.filter((n) => n.alive);
    await until('cluster_state:ok on every node', timeoutMs, async () => {
      for (const n of live) {
        const info = fields(await cliAt(n.port, 'cluster', 'info'));
        if (info.cluster_state !== 'ok' || info.cluster_slots_ok !== '16384') return undefined;
      }
      await refreshRoles();
      // Replicas attached and synced, so a failover has something to promote.
      for (const n of live.filter((x) => x.role === 'replica')) {
        const repl = fields(await cliAt(n.port, 'info', 'replication'));
        if (repl.master_link_status !== 'up') return undefined;
      }
      return true;
    });
  };

  try {
    for (let i = 0; i < total; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const p = spawn(
        server,
        [
          // A config file must be the first argument.
          ...security,
          '--port',
          String(port),
          '--bind',
          host,
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(o.nodeTimeoutMs ?? 1000),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      );
      p.on('error', () => undefined);
      if (p.pid === undefined) {
        await once(p, 'error').catch(() => undefined);
        throw new Error(`${server} could not be started (is it installed?)`);
      }
      procs.set(port, p);
      nodes.push({ port, pid: p.pid, role: 'master', alive: true });
    }
    for (const n of nodes) {
      await until(`redis-server on ${n.port} answering`, timeoutMs, async () => {
        const proc = procs.get(n.port)!;
        if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
        return (await cliAt(n.port, 'ping')).trim() === 'PONG' ? true : undefined;
      });
    }
    await run(
      cli,
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${host}:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      timeoutMs,
      auth,
    );
    await waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }

  const liveMasters = () =>
    nodes.filter((n) => n.alive && n.role === 'master').sort((a, b) => a.port - b.port);

  return {
    seeds: nodes.map((n) => `${host}:${n.port}`).join(','),
    nodes,
    dir,
    masters: liveMasters,
    waitHealthy,
    stop,
    async masterIndexOf(key: string): Promise<number> {
      await refreshRoles();
      const masters = liveMasters();
      const slot = Number((await cliAt(masters[0].port, 'cluster', 'keyslot', key)).trim());
      // "<id> <ip:port@bus> <flags> <master> … <state> <range> <range>…" per node.
      for (const line of (await cliAt(masters[0].port, 'cluster', 'nodes')).split('\n')) {
        const parts = line.trim().split(/\s+/);
        if (parts.length < 9 || !parts[2].includes('master') || parts[2].includes('fail')) continue;
        const port = Number(parts[1].split('@')[0].split(':').pop());
        for (const range of parts.slice(8)) {
          const [lo, hi] = range.split('-').map(Number);
          if (slot >= lo && slot <= (hi ?? lo)) {
            const i = masters.findIndex((m) => m.port === port);
            if (i >= 0) return i;
          }
        }
      }
      throw new Error(`no live master owns slot ${slot}`);
    },
    async killMaster(i: number): Promise<KillResult> {
      await refreshRoles();
      const target = liveMasters()[i];
      if (!target) throw new Error(`no live master #${i}`);
      // Its replicas, known before the kill (ROLE on a master lists them).
      const role = await cliAt(target.port, 'role');
      const replicaPorts = nodes
        .filter((n) => n.alive && n.role === 'replica' && role.includes(String(n.port)))
        .map((n) => n.port);
      if (replicaPorts.length === 0) throw new Error(`master ${target.port} has no replica`);
      const proc = procs.get(target.port)!;
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      target.alive = false;
      const promoted = await until(`a replica of ${target.port} promoted`, timeoutMs, async () => {
        for (const port of replicaPorts) {
          if ((await cliAt(port, 'role')).split('\n')[0].trim() === 'master') return port;
        }
        return undefined;
      });
      const promotedAt = Date.now();
      await waitHealthy();
      return { killed: target.port, killedAt, promoted, promotedAt };
    },
  };
}

/* Run directly: start a cluster, print its seeds, stop it on SIGINT/SIGTERM. */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const arg = (name: string, def: number) => Number(text(name) ?? def);
  const cluster = await startRedisCluster({
    masters: arg('masters', 3),
    replicasPerMaster: arg('replicas', 1),
    password: text('password'),
    username: text('user'),
  });
  process.stdout.write(`REDIS_CLUSTER_NODES=${cluster.seeds}\n`);
  const bye = () => void cluster.stop().then(() => process.exit(0));
  process.on('SIGINT', bye);
  process.on('SIGTERM', bye);
}
