import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImportCycles, formatReport } from '../scripts/import-cycles.mjs';

/** docs/architecture.md, "Dependency direction": checked by scripts/import-cycles.mjs. */
describe('src/ import structure', () => {
  it('has no file-level import cycle', () => {
    const result = checkImportCycles();
    expect(result.fileCycles, formatReport(result)).toEqual([]);
  });

  it('has no cycle among its top-level folders (gateway/ counts as one, sessions included)', () => {
    const result = checkImportCycles();
    expect(result.directoryCycles, formatReport(result)).toEqual([]);
  });
});

describe('scripts/import-cycles.mjs', () => {
  const root = mkdtempSync(join(tmpdir(), 'import-cycles-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const tree = (name: string, files: Record<string, string>) => {
    const src = join(root, name, 'src');
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), text);
    }
    return src;
  };

  it('finds file cycles (type-only and re-exports count) and folder cycles, not spec files', () => {
    const srcDir = tree('cyclic', {
      'a/one.ts': "import type { Two } from './two.js';\nexport type One = Two;\n",
      'a/two.ts': "export { three } from '../b/three.js';\nexport type Two = string;\n",
      'b/three.ts': "import { four } from './deep/four.js';\nexport const three = four;\n",
      'b/deep/four.ts':
        "import type { One } from '../../a/one.js';\nexport const four: One = '';\n",
      'c/five.ts': 'export const five = 5;\n',
      'c/five.spec.ts': "import { three } from '../b/three.js';\nexport const x = three;\n",
      'app.module.ts': "import { five } from './c/five.js';\nexport const app = five;\n",
    });
    const result = checkImportCycles({ srcDir });
    expect(result.fileCycles).toEqual([
      ['src/a/one.ts', 'src/a/two.ts', 'src/b/deep/four.ts', 'src/b/three.ts'],
    ]);
    expect(result.directoryCycles.map((cycle) => cycle.directories)).toEqual([['a', 'b']]);
    expect(result.directoryCycles[0].edges.map((e) => e.edge)).toEqual(['a -> b', 'b -> a']);
    expect(checkImportCycles({ srcDir, allowDirectories: ['b'] }).directoryCycles).toEqual([]);
  });

  it('ignores edges from the composition root (src/*.ts)', () => {
    const srcDir = tree('root', {
      'app.module.ts': "import { b } from './b/b.js';\nexport const app = b;\n",
      'a/a.ts': "import { app } from '../app.module.js';\nexport const a = app;\n",
      'b/b.ts': "import type { a } from '../a/a.js';\nexport const b: typeof a = 1;\n",
    });
    // a → root → b → a is a file cycle, but no folder cycle: root files are no folder.
    const result = checkImportCycles({ srcDir });
    expect(result.directoryCycles).toEqual([]);
    expect(result.fileCycles).toHaveLength(1);
  });
});
