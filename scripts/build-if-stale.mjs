// Builds dist/ only when a source changed since the last build, so `npm start` and the token CLI
// start in about a second when nothing changed (a no-op `tsc --incremental` alone still costs
// 4-8 s of type-checking here). The build itself is incremental (tsconfig.build.json keeps
// dist/.tsbuildinfo), so a change to one file rebuilds quickly too.
//
//   node scripts/build-if-stale.mjs [--quiet]   exit 0 when dist/ is up to date (built or not)
//
// "Changed" means: any file or directory under the inputs below is newer than dist/.build-stamp
// (a directory's mtime moves when a file is added, removed or renamed in it), or the stamp is
// missing (fresh clone, `rm -rf dist`); `npm run build` writes the stamp (copy-assets.mjs).
// Build output goes to stderr so stdout stays clean for callers such as `wcr-token`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
const INPUTS = [
  'src',
  'packages',
  'bench',
  'scripts',
  'web',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'package-lock.json',
];
const SKIP = new Set(['node_modules', 'results', 'dist']);

/** Newest mtime (ms) of a path and, for a directory, of everything under it. */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  let max = st.mtimeMs;
  if (st.isDirectory()) {
    for (const entry of readdirSync(path)) {
      if (SKIP.has(entry)) continue;
      max = Math.max(max, newest(join(path, entry)));
    }
  }
  return max;
}

export function isStale() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((p) => newest(join(ROOT, p)) > built);
}

export function build({ quiet = false } = {}) {
  const started = Date.now();
  if (!quiet) process.stderr.write('Building (sources changed since the last build)…\n');
  // stdout of the build goes to our stderr: callers may capture our stdout.
  const res = spawnSync('npm', ['run', '--silent', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 2, 2],
  });
  if (res.status !== 0) {
    process.stderr.write('Build failed\n');
    process.exit(res.status ?? 1);
  }
  if (!quiet) process.stderr.write(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

export function ensureBuilt(options = {}) {
  if (isStale()) build(options);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureBuilt({ quiet: process.argv.includes('--quiet') });
}
