/**
 * Scenario 4: alert fan-out — one emergency alert (POST /api/v1/alerts/emergency with a service
 * token) to an organization of 10,000 members with 10,000 connected sockets; time from the
 * request until the last socket has it, and until the 202, against the baseline's room
 * broadcast of the same event.
 */
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { merge, summarize } from '../lib/hist.js';
import { all, closeLoaders, startLoaders } from '../lib/loaders.js';
import { CpuMeter } from '../lib/proc.js';
import { machine, ratio, type Row, type ScenarioResult, type TargetCheck } from '../lib/report.js';
import { sleep, type BenchContext, type Scenario } from './context.js';
import { pair, withServer, type Deployment } from './targets.js';

const PER_LOADER = 2500;
const wallNow = (): number => performance.timeOrigin + performance.now();

interface AlertMeasurement {
  sockets: number;
  users: number;
  /** Per repetition: ms from the POST until the last socket had the alert. */
  lastMs: number[];
  p50Ms: number[];
  httpMs: number[];
  received: number[];
  cpuMsPerAlert: number;
  failures: string[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

async function measure(
  ctx: BenchContext,
  url: string,
  pid: number,
  n: number,
  users: number,
  members: number,
  reps: number,
  label: string,
): Promise<AlertMeasurement> {
  const failures: string[] = [];
  const tag = `${ctx.runId}${label.replace(/[^a-z]/g, '').slice(0, 4)}`;
  const org = `oa${tag}`;
  // Members who are not connected when the alert is raised (they connected once before, so the
  // organization has `members` members: one recipient row and audit record each at creation).
  if (members > users) {
    const once = startLoaders(1);
    try {
      await once[0].request('idle:connect', {
        target: url,
        secret: ctx.secret,
        users: Array.from({ length: members - users }, (_, k) => ({
          userId: `a${tag}m${k}`,
          organizationId: org,
          role: 'parent',
        })),
        concurrency: 50,
        listenAlerts: false,
        deadlineMs: ctx.smoke ? 60_000 : 300_000,
      });
    } finally {
      await closeLoaders(once);
    }
  }
  const loaders = startLoaders(Math.ceil(n / PER_LOADER));
  const cpu = new CpuMeter(() => [pid]);
  try {
    const per = Math.ceil(n / loaders.length);
    const t0 = Date.now();
    const ramp = Promise.all(
      loaders.map((l, li) =>
        l.request('idle:connect', {
          target: url,
          secret: ctx.secret,
          users: Array.from({ length: Math.max(0, Math.min(per, n - li * per)) }, (_, k) => ({
            userId: `a${tag}u${(li * per + k) % users}`,
            organizationId: org,
            role: 'staff',
          })),
          concurrency: 20,
          listenAlerts: true,
          deadlineMs: ctx.smoke ? 60_000 : 300_000,
        }),
      ),
    );
    let done = false;
    void ramp.finally(() => (done = true));
    while (!done) {
      ctx.progress.update(
        `[${label}] connecting ${loaders.reduce((s, l) => s + l.count, 0)}/${n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      await sleep(250);
    }
    const conn = await ramp;
    const connected = conn.reduce((s, r) => s + r.connected, 0);
    if (connected < n)
      failures.push(
        `${label}: only ${connected} of ${n} sockets connected: ${conn
          .flatMap((r) => r.errors)
          .slice(0, 3)
          .join('; ')}`,
      );
    // Let the connect storm (presence:changed to the organization) die down before measuring.
    const quietDeadline = Date.now() + 120_000;
    for (;;) {
      const st = await all(loaders, 'idle:status');
      const last = Math.max(...st.map((s) => s.lastEventAt));
      ctx.progress.update(
        `[${label}] waiting for quiet (last event ${((wallNow() - last) / 1000).toFixed(1)} s ago)`,
      );
      if (wallNow() - last > 1500 || Date.now() > quietDeadline) break;
      await sleep(250);
    }
    const service = await new SignJWT({ organizationId: `svc${tag}`, role: 'service' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(`svc${tag}`)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(ctx.secret));
    const m: AlertMeasurement = {
      sockets: connected,
      users,
      lastMs: [],
      p50Ms: [],
      httpMs: [],
      received: [],
      cpuMsPerAlert: NaN,
      failures,
    };
    let cpuTotal = 0;
    for (let rep = 0; rep < reps; rep++) {
      await all(loaders, 'alert:arm', {});
      ctx.progress.update(`[${label}] alert ${rep + 1}/${reps}`);
      cpu.begin();
      const sentAt = wallNow();
      const res = await fetch(`${url}/api/v1/alerts/emergency`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          organizationId: org,
          title: 'Benchmark drill',
          message: 'Shelter in place (benchmark)',
          severity: 'critical',
        }),
      });
      const httpMs = wallNow() - sentAt;
      if (res.status !== 202) {
        failures.push(`${label}: POST /api/v1/alerts/emergency answered ${res.status}`);
        await res.body?.cancel();
        break;
      }
      await res.json();
      const waits = await all(loaders, 'alert:wait', { sentAt, timeoutMs: 30_000 });
      cpuTotal += cpu.end();
      const received = waits.reduce((s, w) => s + w.received, 0);
      const expected = waits.reduce((s, w) => s + w.expected, 0);
      if (received < expected)
        failures.push(
          `${label}: alert ${rep + 1} reached ${received} of ${expected} sockets in 30 s`,
        );
      const dup = waits.reduce((s, w) => s + w.duplicates, 0);
      if (dup > 0) failures.push(`${label}: alert ${rep + 1} arrived twice on ${dup} sockets`);
      const last = Math.max(...waits.filter((w) => w.received > 0).map((w) => w.lastAt));
      m.lastMs.push(Math.round((last - sentAt) * 10) / 10);
      m.p50Ms.push(summarize(merge(waits.map((w) => w.hist))).p50Ms);
      m.httpMs.push(Math.round(httpMs * 10) / 10);
      m.received.push(received);
      await sleep(1000);
    }
    m.cpuMsPerAlert = m.lastMs.length > 0 ? Math.round((cpuTotal / m.lastMs.length) * 1000) : NaN;
    ctx.progress.done();
    return m;
  } finally {
    await closeLoaders(loaders);
  }
}

export const alertScenario: Scenario = {
  name: 'alert',
  title: 'Scenario 4 — emergency alert fan-out to one organization',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const n = ctx.overrides.alertSockets ?? (ctx.smoke ? 300 : 10_000);
    const users = ctx.overrides.alertUsers ?? (ctx.smoke ? 30 : 100);
    const members = Math.max(users, ctx.smoke ? 300 : 10_000);
    const reps = ctx.smoke ? 1 : 3;
    const env = { WS_MAX_CONNECTIONS_PER_USER: String(Math.ceil(n / users) + 10) };
    const rows: Row[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const got = new Map<string, AlertMeasurement>();
    const deps: Deployment[] = pair(ctx);
    for (const d of deps) {
      try {
        const m = await withServer(ctx, d, env, (s) =>
          measure(ctx, s.url, s.pid, n, users, members, reps, d.label),
        );
        got.set(d.label, m);
        failures.push(...m.failures);
        const bare = got.get('bare');
        rows.push({
          target: d.label,
          metrics: {
            sockets: m.sockets,
            lastMs: median(m.lastMs),
            vsBare:
              d.kind === 'bare' ? null : ratio(median(m.lastMs), bare ? median(bare.lastMs) : null),
            p50Ms: median(m.p50Ms),
            httpMs: median(m.httpMs),
            httpVsBare:
              d.kind === 'bare' ? null : ratio(median(m.httpMs), bare ? median(bare.httpMs) : null),
            cpuMsPerAlert: m.cpuMsPerAlert,
            runs: m.lastMs.join(' / '),
          },
        });
      } catch (err) {
        notes.push(`${d.label} not measured: ${(err as Error).message}`);
      }
    }
    const bare = got.get('bare');
    const ours = deps[1] ? got.get(deps[1].label) : undefined;
    const oursLast = ours ? median(ours.lastMs) : NaN;
    const r = ratio(oursLast, bare ? median(bare.lastMs) : null);
    const oursHttp = ours ? median(ours.httpMs) : NaN;
    const rHttp = ratio(oursHttp, bare ? median(bare.httpMs) : null);
    const targets: TargetCheck[] = [
      {
        name: `alert fan-out to ${n.toLocaleString('en-US')} sockets, last delivery`,
        goal: '≤ 1000 ms',
        measured:
          ours && Number.isFinite(oursLast)
            ? `${oursLast} ms (median of ${ours.lastMs.length})`
            : 'not measured',
        pass: ours && Number.isFinite(oursLast) ? oursLast <= 1000 : null,
      },
      {
        name: 'alert fan-out vs bare room broadcast',
        goal: '≤ 1.5× bare',
        measured: r === null ? 'not measured' : `${r}× (${oursLast} vs ${median(bare!.lastMs)} ms)`,
        pass: r === null ? null : r <= 1.5,
      },
      {
        name: `POST → 202 for ${members.toLocaleString('en-US')} members vs bare`,
        goal: '≤ 2× bare',
        measured:
          rHttp === null ? 'not measured' : `${rHttp}× (${oursHttp} vs ${median(bare!.httpMs)} ms)`,
        pass: rHttp === null ? null : rHttp <= 2,
      },
    ];
    return {
      scenario: 'alert',
      title: this.title,
      startedAt,
      smoke: ctx.smoke,
      machine: machine(),
      columns: [
        { key: 'sockets', label: 'sockets' },
        { key: 'lastMs', label: 'last delivery', unit: 'ms' },
        { key: 'vsBare', label: '× bare' },
        { key: 'p50Ms', label: 'p50 delivery', unit: 'ms' },
        { key: 'httpMs', label: 'HTTP 202 after', unit: 'ms' },
        { key: 'httpVsBare', label: '202 × bare' },
        { key: 'cpuMsPerAlert', label: 'server CPU/alert', unit: 'ms' },
        { key: 'runs', label: 'each run (ms)' },
      ],
      rows,
      ratios: { lastDelivery: r, http202: rHttp },
      targets,
      failures,
      notes: [
        `${members} members of one organization (each connected once before, so each is a recipient row and an audit record at creation); ${n} sockets of ${users} of them (${Math.ceil(n / users)} sockets each) connected: with one user per socket, the connect storm alone is ${((n * n) / 2 / 1e6).toFixed(0)} M presence:changed packets (each first session is announced to the whole organization), so users share sockets; median of ${reps} alerts, 1 s apart, after the storm died down`,
        ...notes,
      ],
      chart: [
        { key: 'lastMs', label: 'last socket has the alert (ms)' },
        { key: 'p50Ms', label: 'median socket (ms)' },
        { key: 'cpuMsPerAlert', label: 'server CPU per alert (ms)' },
      ],
    };
  },
};
