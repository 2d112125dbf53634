import { expect } from 'vitest';

/**
 * Keys of an `export interface Name { … }` block in a TypeScript source, read as text: the event
 * names of the typed event map as written, not as some runtime table repeats them.
 */
export function interfaceKeys(source: string, name: string): string[] {
  const start = source.indexOf(`export interface ${name} {`);
  expect(start, `interface ${name} not found`).toBeGreaterThanOrEqual(0);
  let depth = 0;
  let i = source.indexOf('{', start);
  const keys: string[] = [];
  let line = '';
  let lineDepth = 1;
  for (; i < source.length; i++) {
    const ch = source[i];
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (depth === 0) break;
    if (ch === '\n') {
      const m = /^ {2}'?([A-Za-z:-]+)'?\??:/.exec(line);
      if (m && lineDepth === 1) keys.push(m[1]);
      line = '';
      lineDepth = depth;
    } else line += ch;
  }
  return keys;
}
