/**
 * Import-cycle checker for src/ (docs/architecture.md, "Dependency direction").
 *
 * Reads every relative import of src/**\/*.ts (spec files excluded; `import type`, `export … from`
 * and `import()` all count: a type-only edge is still a dependency between folders) and reports
 *   (a) file-level cycles: strongly connected groups of files, and
 *   (b) directory-level cycles among the top-level folders of src/ (src/gateway/engine/… is
 *       `gateway`). The root files (src/*.ts: app.module.ts, main.ts, app.factory.ts,
 *       infrastructure.module.ts, preflight.ts) are the composition root: edges from them are
 *       ignored.
 *
 *   node scripts/import-cycles.mjs [--allow dir,dir] [--src path/to/src]   exit 1 on a cycle
 *
 * `--allow` drops the named folders from the directory graph first (cycles through them are
 * tolerated); test/architecture.test.ts calls `checkImportCycles` with its own allow-list.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every non-spec .ts file under `dir`, as paths relative to `base` ('/'-separated: 'src/…'). */
function sourceFiles(dir, base) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path, base));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
      files.push(relative(base, path).split(sep).join('/'));
    }
  }
  return files;
}

/** The file a relative specifier names ('./x.js' → 'x.ts', './dir' → 'dir/index.ts'), if any. */
function resolveImport(from, specifier, known) {
  const base = join(dirname(from), specifier).split(sep).join('/');
  const candidates = [
    base.replace(/\.(m|c)?js$/, '.$1ts').replace(/\.ts$/, '.ts'),
    base,
    `${base}.ts`,
    `${base}/index.ts`,
  ];
  return candidates.find((candidate) => known.has(candidate));
}

/** file → the src/ files it imports (relative imports only). `srcDir`: another tree's src/. */
export function importGraph(srcDir = join(ROOT, 'src')) {
  const base = dirname(resolve(srcDir));
  const files = sourceFiles(resolve(srcDir), base);
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(base, file), 'utf8'), true, true);
    const targets = new Set();
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolveImport(file, fileName, known);
      if (target) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Top-level folder of a src/ file ('src/gateway/engine/x.ts' → 'gateway'); null for root files. */
export function topDirectory(file) {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1] : null;
}

/** Strongly connected components with more than one node, or a node importing itself (Tarjan). */
function cycles(graph) {
  let index = 0;
  const indexes = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (node) => {
    indexes.set(node, index);
    low.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indexes.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), indexes.get(next)));
      }
    }
    if (low.get(node) === indexes.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indexes.has(node)) visit(node);
  return found;
}

/**
 * The cycles of src/. `allowDirectories`: folders left out of the directory graph (their cycles
 * are tolerated). Each directory cycle lists its folders and the file edges between them.
 */
export function checkImportCycles({ allowDirectories = [], srcDir } = {}) {
  const graph = importGraph(srcDir);
  const fileCycles = cycles(graph);

  const allowed = new Set(allowDirectories);
  const dirGraph = new Map();
  const witnesses = new Map(); // 'from -> to' → file edges
  for (const [file, targets] of graph) {
    const from = topDirectory(file);
    if (from === null || allowed.has(from)) continue; // composition root, or allowed
    if (!dirGraph.has(from)) dirGraph.set(from, new Set());
    for (const target of targets) {
      const to = topDirectory(target);
      if (to === null || to === from || allowed.has(to)) continue;
      dirGraph.get(from).add(to);
      const key = `${from} -> ${to}`;
      if (!witnesses.has(key)) witnesses.set(key, []);
      witnesses.get(key).push(`${file} -> ${target}`);
    }
  }
  const directoryCycles = cycles(dirGraph).map((directories) => {
    const members = new Set(directories);
    const edges = [...witnesses]
      .filter(([key]) => {
        const [from, to] = key.split(' -> ');
        return members.has(from) && members.has(to);
      })
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, files]) => ({ edge: key, files }));
    return { directories, edges };
  });
  return { fileCycles, directoryCycles };
}

/** Human-readable report of `checkImportCycles`'s result. */
export function formatReport({ fileCycles, directoryCycles }) {
  const lines = [];
  lines.push(`file-level cycles: ${fileCycles.length}`);
  for (const cycle of fileCycles) lines.push(`  ${cycle.join(' <-> ')}`);
  lines.push(`directory-level cycles: ${directoryCycles.length}`);
  for (const { directories, edges } of directoryCycles) {
    lines.push(`  [${directories.join(', ')}]`);
    for (const { edge, files } of edges) {
      lines.push(`    ${edge}`);
      for (const file of files) lines.push(`      ${file}`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--allow');
  const allowDirectories = at > 0 ? (process.argv[at + 1] ?? '').split(',').filter(Boolean) : [];
  const srcAt = process.argv.indexOf('--src');
  const srcDir = srcAt > 0 ? process.argv[srcAt + 1] : undefined;
  const result = checkImportCycles({ allowDirectories, srcDir });
  process.stdout.write(`${formatReport(result)}\n`);
  process.exitCode = result.fileCycles.length + result.directoryCycles.length > 0 ? 1 : 0;
}
