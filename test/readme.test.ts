import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('README', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it('lists every environment variable the config reads', () => {
    const source = readFileSync(join(root, 'src/config/config.ts'), 'utf8');
    const vars = new Set(
      [...source.matchAll(/(?:str|int|bool)\(env, '([A-Z_]+)'|env\.([A-Z_]+)/g)].map(
        (m) => m[1] ?? m[2],
      ),
    );
    expect(vars.size).toBeGreaterThan(20);
    for (const v of vars) expect(readme, `README is missing ${v}`).toContain(`\`${v}\``);
  });

  it('has the install-and-start and the test command near the top', () => {
    const top = readme.split('\n').slice(0, 15).join('\n');
    expect(top).toContain('npm install && npm start');
    expect(top).toContain('npm test');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.prestart).toContain('build');
    expect(pkg.scripts.test).toBeDefined();
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toContain('npm test');
  });
});
