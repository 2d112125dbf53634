/** Starting and stopping the deployments a scenario compares, with uniform error handling. */
import { startServer, type DbKind, type RunningServer, type ServerKind } from '../lib/servers.js';
import type { BenchContext } from './context.js';

export interface Deployment {
  label: string;
  kind: ServerKind;
  db: DbKind;
}

export function deployments(
  ctx: BenchContext,
  opts: { embedded?: boolean; postgres?: boolean },
): Deployment[] {
  const out: Deployment[] = [{ label: 'bare', kind: 'bare', db: 'none' }];
  if (ctx.overrides.bareOnly) return out;
  if (opts.embedded) out.push({ label: 'ours (embedded)', kind: 'ours', db: 'embedded' });
  if (opts.postgres && ctx.hasPostgres)
    out.push({ label: 'ours (PostgreSQL)', kind: 'ours', db: 'postgres' });
  return out;
}

/** Our server on PostgreSQL when it is there (the production shape), else embedded. */
export function oursPreferPostgres(ctx: BenchContext): Deployment {
  return ctx.hasPostgres
    ? { label: 'ours (PostgreSQL)', kind: 'ours', db: 'postgres' }
    : { label: 'ours (embedded)', kind: 'ours', db: 'embedded' };
}

export async function withServer<T>(
  ctx: BenchContext,
  d: Deployment,
  env: Record<string, string>,
  fn: (s: RunningServer) => Promise<T>,
  options: { countSql?: boolean } = {},
): Promise<T> {
  ctx.progress.update(`[${d.label}] starting server`);
  const server = await startServer({
    kind: d.kind,
    db: d.db,
    secret: ctx.secret,
    env,
    label: d.label.replace(/[^A-Za-z0-9]/g, '').toLowerCase(),
    cpuProfDir: d.kind === 'ours' || ctx.profileBare ? ctx.cpuProfDir : undefined,
    ...(options.countSql ? { countSql: true } : {}),
  });
  try {
    return await fn(server);
  } finally {
    await server.stop();
    ctx.progress.done();
  }
}

/** The baseline and our server (PostgreSQL when it is there), or the baseline alone with --bare-only. */
export function pair(ctx: BenchContext): Deployment[] {
  const bare: Deployment = { label: 'bare', kind: 'bare', db: 'none' };
  return ctx.overrides.bareOnly ? [bare] : [bare, oursPreferPostgres(ctx)];
}
