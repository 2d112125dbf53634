/**
 * CPU and memory of server processes from /proc (Linux). CPU is utime+stime of the whole thread
 * group (event loop, libuv pool, GC threads) in clock ticks; RSS from /proc/<pid>/status.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux this runs on
}

/** CPU seconds (user + system) used so far by a process, or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / clkTck;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes, or NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Sum of CPU seconds of a set of processes; processes that vanished count what they had. */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  private readonly last = new Map<number, number>();

  constructor(private readonly pids: () => number[]) {}

  begin(): void {
    this.start.clear();
    this.last.clear();
    for (const pid of this.pids()) {
      const c = cpuSeconds(pid);
      if (!Number.isNaN(c)) this.start.set(pid, c);
    }
  }

  /** Picks up processes that appeared after begin (e.g. new PostgreSQL backends). */
  poll(): void {
    for (const pid of this.pids()) {
      const c = cpuSeconds(pid);
      if (Number.isNaN(c)) continue;
      if (!this.start.has(pid)) this.start.set(pid, 0);
      this.last.set(pid, c);
    }
  }

  /** CPU seconds used since begin(). */
  end(): number {
    this.poll();
    let total = 0;
    for (const [pid, s] of this.start) {
      const e = this.last.get(pid);
      if (e !== undefined) total += Math.max(0, e - s);
    }
    return total;
  }
}

/** RSS samples taken on an interval while a window is open. */
export class RssSampler {
  private samples: number[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly pids: () => number[]) {}

  sample(): number {
    let total = 0;
    for (const pid of this.pids()) {
      const r = rssBytes(pid);
      if (!Number.isNaN(r)) total += r;
    }
    return total;
  }

  begin(intervalMs = 250): void {
    this.samples = [this.sample()];
    this.timer = setInterval(() => this.samples.push(this.sample()), intervalMs);
  }

  end(): { median: number; max: number; samples: number } {
    if (this.timer) clearInterval(this.timer);
    this.samples.push(this.sample());
    const sorted = [...this.samples].sort((a, b) => a - b);
    return {
      median: sorted[Math.floor(sorted.length / 2)],
      max: sorted[sorted.length - 1],
      samples: sorted.length,
    };
  }
}

/** Pids whose command name is exactly `comm` (e.g. redis-server), for read-only CPU sampling. */
export function pidsByComm(comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
    } catch {
      // raced with exit
    }
  }
  return out;
}
