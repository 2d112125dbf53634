/**
 * Where the time goes in a V8 CPU profile (`npm run bench -- --profile` writes them to
 * bench/results/profiles/): self time by package / our module, then the hottest functions by
 * self and by inclusive time.
 *   node dist/bench/profile-summary.js <file.cpuprofile> [--skip=<seconds from start>] [--until=<seconds>] [--top=N] [--filter=dist/src]
 * `--skip` leaves out start-up (PGlite's initdb, Nest's bootstrap) so the load dominates; `--until`
 * leaves out what came after (the storm scenario notes both for its storm).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

function category(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const ours = /\/dist\/(src|bench)\/([^/]+)/.exec(url);
  if (ours) return `ours:${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  return url;
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/dist\//, 'dist/');
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [--skip=s] [--top=N]');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const skipUs = Number(arg('skip') ?? 0) * 1e6;
  const untilUs = arg('until') !== undefined ? Number(arg('until')) * 1e6 : Infinity;
  const top = Number(arg('top') ?? 25);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  const idleIds = new Set(
    p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  const perSecond: number[] = [];
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const sec = Math.floor(t / 1e6);
    perSecond[sec] =
      (perSecond[sec] ?? 0) + (idleIds.has(p.samples[i]) ? 0 : (p.timeDeltas[i + 1] ?? 0));
    if (t < skipUs || t > untilUs) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const cats = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const inclFn = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') idle += us;
    const c = category(n.callFrame.url, n.callFrame.functionName);
    cats.set(c, (cats.get(c) ?? 0) + us);
    selfFn.set(key(n), (selfFn.get(key(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclFn.set(k, (inclFn.get(k) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const print = (title: string, m: Map<string, number>, n: number) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      if (k.startsWith('(idle)')) continue;
      process.stdout.write(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
  };
  process.stdout.write(
    `${file}\nbusy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled (skip ${skipUs / 1e6} s${untilUs < Infinity ? `, until ${untilUs / 1e6} s` : ''}); percentages of busy time\n`,
  );
  process.stdout.write(
    `busy ms per second from the start: ${Array.from(perSecond, (v) => Math.round((v ?? 0) / 1000)).join(' ')}\n`,
  );
  print('self time by package / module', cats, top);
  print('hottest functions (self)', selfFn, top);
  print('hottest functions (inclusive)', inclFn, top);
  const filter = arg('filter');
  if (filter) {
    const only = new Map([...inclFn].filter(([k]) => k.includes(filter)));
    print(`inclusive time of functions matching "${filter}"`, only, top);
  }
}

main();
