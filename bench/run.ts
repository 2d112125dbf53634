/**
 * The benchmark orchestrator: `npm run bench` (every scenario, full length) or
 * `npm run bench -- --smoke` (every scenario for a few seconds, so CI keeps the harness alive;
 * no timing assertions). Options: `--only=chat,paced` (scenario names), `--loaders=N` (chat
 * loader processes, default 2), `--profile` (our server runs with `node --cpu-prof`, profiles in
 * bench/results/profiles/; `--profile=all` profiles the baseline too), `--connections=N`,
 * `--alert-sockets=N`, `--alert-users=N` (scale of scenarios 3 and 4), `--storm-sockets=N`
 * (scenario 6), `--rates=N,M` (scenario
 * 2's rates), `--bare-only` (the baseline alone, to check the harness); `--name value` works as
 * `--name=value`. Servers and loaders are
 * real processes on 127.0.0.1; every loop is bounded in count and time.
 *
 * Exit code 1 when a run found a correctness failure (a lost, duplicated or reordered message,
 * refused connections, dropped heartbeats) or could not measure a scenario it should have.
 * Missed performance targets are reported, not failed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Progress, save, table, type ScenarioResult } from './lib/report.js';
import { postgresAvailable, redisAvailable, ROOT } from './lib/servers.js';
import { alertScenario } from './scenarios/alert.js';
import { chatScenario } from './scenarios/chat.js';
import { connectionsScenario } from './scenarios/connections.js';
import type { BenchContext, Scenario } from './scenarios/context.js';
import { multinodeLbScenario } from './scenarios/multinode-lb.js';
import { multinodeScenario } from './scenarios/multinode.js';
import { pacedScenario } from './scenarios/paced.js';
import { stormScenario } from './scenarios/storm.js';

const SCENARIOS: Scenario[] = [
  chatScenario,
  pacedScenario,
  connectionsScenario,
  alertScenario,
  multinodeScenario,
  stormScenario,
  multinodeLbScenario,
];

/** `--name=value`, `--name value` (a value not starting with `--`), or a bare `--name` flag ('true'). */
function arg(name: string): string | undefined {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const hit = process.argv[i];
  if (hit.includes('=')) return hit.slice(hit.indexOf('=') + 1);
  const next = process.argv[i + 1];
  return next !== undefined && !next.startsWith('--') ? next : 'true';
}

/** A positive numeric option, or undefined when absent; anything else stops the run. */
function num(name: string): number | undefined {
  const v = arg(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, got ${v}`);
  return n;
}

const DOC = join(ROOT, 'docs', 'performance.md');
const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

function markdown(results: ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(
      `### ${r.title}`,
      '',
      `Run ${r.startedAt} on ${r.machine.cpus} cores (${r.machine.model}), node ${r.machine.node}.`,
      '',
    );
    out.push('```', table(r), '```', '');
  }
  return out.join('\n');
}

/** The newest full-length (not smoke) result of each scenario in bench/results. */
function latestResults(): ScenarioResult[] {
  const dir = join(ROOT, 'bench', 'results');
  const out: ScenarioResult[] = [];
  for (const s of SCENARIOS) {
    const files = readdirSync(dir).filter((f) =>
      new RegExp(`^${s.name}-\\d{4}-\\d{2}-\\d{2}\\.json$`).test(f),
    );
    const runs = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult);
    runs.sort((x, y) => y.startedAt.localeCompare(x.startedAt));
    if (runs[0]) out.push(runs[0]);
  }
  return out;
}

/** A full-length run rewrites the latest tables (newest result of every scenario) in docs/performance.md. */
function updateDoc(results: ScenarioResult[]): void {
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), markdown(results));
  if (!existsSync(DOC)) return;
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return;
  writeFileSync(DOC, `${doc.slice(0, a + START.length)}\n\n${markdown(results)}\n${doc.slice(b)}`);
}

async function main(): Promise<void> {
  const smoke = arg('smoke') === 'true';
  const only = arg('only')
    ?.split(',')
    .map((s) => s.trim());
  const unknown = only?.filter((o) => !SCENARIOS.some((s) => s.name === o)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`,
    );
  for (const f of ['dist/src/main.js', 'dist/bench/baseline-server.js', 'dist/bench/loader.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
  }
  const [hasPostgres, hasRedis] = await Promise.all([postgresAvailable(), redisAvailable()]);
  const profile = arg('profile') === 'true' || arg('profile') === 'all';
  const cpuProfDir = profile ? join(ROOT, 'bench', 'results', 'profiles') : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const ctx: BenchContext = {
    smoke,
    secret: randomBytes(36).toString('base64url'),
    runId: Date.now().toString(36).slice(-5),
    progress: new Progress(),
    hasPostgres,
    hasRedis,
    cpuProfDir,
    profileBare: arg('profile') === 'all',
    chatLoaders: num('loaders') ?? 2,
    overrides: {
      connections: num('connections'),
      alertSockets: num('alert-sockets'),
      alertUsers: num('alert-users'),
      stormSockets: num('storm-sockets'),
      bareOnly: arg('bare-only') === 'true',
      rates: arg('rates')
        ?.split(',')
        .map(Number)
        .filter((n) => n > 0),
    },
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));
  ctx.log(
    `bench ${smoke ? '(smoke) ' : ''}scenarios: ${selected.map((s) => s.name).join(', ')}; PostgreSQL ${hasPostgres ? 'up' : 'DOWN'}, Redis ${hasRedis ? 'up' : 'DOWN'}`,
  );
  const results: ScenarioResult[] = [];
  let failed = false;
  const deadline = Date.now() + (smoke ? 15 : 60) * 60_000;
  for (const s of selected) {
    if (Date.now() > deadline) {
      ctx.log(`time budget exhausted: ${s.name} not run`);
      failed = true;
      continue;
    }
    ctx.log(`\n== ${s.title}`);
    const scenarioStart = Date.now();
    const r = await s.run(ctx);
    r.notes.push(`scenario took ${Math.round((Date.now() - scenarioStart) / 1000)} s`);
    r.custom =
      Object.values(ctx.overrides).some((v) => v !== undefined && v !== false) ||
      ctx.chatLoaders !== 2 ||
      profile;
    results.push(r);
    const files = save(r);
    process.stdout.write(`\n${r.title}${smoke ? ' [smoke]' : ''}\n${table(r)}\n`);
    ctx.log(`  → ${files.json}\n  → ${files.svg}`);
    const unmeasured = r.notes.filter((n) => n.includes('not measured'));
    if (r.failures.length > 0 || unmeasured.length > 0) failed = true;
  }
  if (!smoke && results.some((r) => !r.custom)) updateDoc(latestResults());
  process.stdout.write(
    `\nbench ${failed ? 'FAILED (see FAIL / not measured lines above)' : 'finished: correctness checks passed'}\n`,
  );
  process.exit(failed ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
