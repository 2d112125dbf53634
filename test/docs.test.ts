/**
 * The documentation cannot drift from the code: the event catalog and the AsyncAPI document are
 * regenerated and compared, the event names are read from the source of the event map itself,
 * and the error and configuration references must name every type and variable the code has.
 * `npm run docs:generate` (UPDATE_DOCS=1) rewrites the generated files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import {
  buildAsyncApi,
  clientEventNames,
  renderEventsMarkdown,
  serverEventNames,
  toYaml,
} from '../scripts/event-docs.js';
import { ERROR_TYPES } from '../src/protocol/errors.js';
import { NAMESPACE_EVENTS } from '../src/protocol/events.js';
import { interfaceKeys } from './support/source.js';

const ROOT = join(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const UPDATE = process.env.UPDATE_DOCS === '1';

async function generatedYaml(): Promise<string> {
  const pkg = JSON.parse(read('package.json')) as { version: string };
  const text = toYaml(buildAsyncApi(pkg.version));
  const options = await prettier.resolveConfig(join(ROOT, 'docs/asyncapi.yaml'));
  return prettier.format(text, { ...options, parser: 'yaml' });
}

describe('event catalog (docs/events.md)', () => {
  const source = read('packages/client/src/protocol/events.ts');
  const clientSpec = interfaceKeys(source, 'ClientEventSpec');
  const serverSpec = interfaceKeys(source, 'ServerEventSpec');

  it('the catalog has exactly the events of ClientEventSpec / ServerEventSpec and NAMESPACE_EVENTS', () => {
    expect(clientSpec.length).toBeGreaterThan(10);
    expect([...clientEventNames].sort()).toEqual([...clientSpec].sort());
    expect([...serverEventNames].sort()).toEqual([...serverSpec].sort());
    const served = new Set([...NAMESPACE_EVENTS['/'], ...NAMESPACE_EVENTS['/communication']]);
    expect([...served].sort()).toEqual([...clientSpec].sort());
  });

  it('is generated from the code (regenerate with npm run docs:generate)', () => {
    const fresh = renderEventsMarkdown();
    if (UPDATE) writeFileSync(join(ROOT, 'docs/events.md'), fresh);
    expect(read('docs/events.md')).toBe(fresh);
  });

  it('documents every event of the code under its direction, and nothing else', () => {
    const md = read('docs/events.md');
    const section = (title: string) => {
      const from = md.indexOf(`## ${title}`);
      const to = md.indexOf('\n## ', from + 1);
      return md.slice(from, to < 0 ? undefined : to);
    };
    const headings = (text: string) => [...text.matchAll(/^### `([^`]+)`$/gm)].map((m) => m[1]);
    expect(headings(section('Client → server')).sort()).toEqual([...clientSpec].sort());
    expect(headings(section('Server → client')).sort()).toEqual([...serverSpec].sort());
  });

  it('shows the DTO constraints (so a changed limit changes the catalog)', () => {
    const md = read('docs/events.md');
    expect(md).toContain('content: string 1..10000 chars');
    expect(md).toContain('participantIds: id[] 1..500 items');
    expect(md).toMatch(/\| `message:send` .* \| 10, 1 every 6 s \|/);
    expect(md).toMatch(/\| `message:typing` .* \| 5, 1 every 2 s \|/);
  });
});

describe('AsyncAPI 3 document (docs/asyncapi.yaml)', () => {
  it('is generated from the same catalog', async () => {
    const fresh = await generatedYaml();
    if (UPDATE) writeFileSync(join(ROOT, 'docs/asyncapi.yaml'), fresh);
    expect(read('docs/asyncapi.yaml')).toBe(fresh);
  });

  it('is structurally valid AsyncAPI 3.0.0 with every $ref resolving', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    const doc = buildAsyncApi(pkg.version) as {
      asyncapi: string;
      info: { title: string; version: string };
      servers: Record<string, { host: string; protocol: string }>;
      channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
      operations: Record<
        string,
        {
          action: string;
          channel: { $ref: string };
          messages: Array<{ $ref: string }>;
          reply?: { channel: { $ref: string }; messages: Array<{ $ref: string }> };
        }
      >;
      components: {
        messages: Record<string, { payload?: unknown; name: string }>;
        schemas: Record<string, unknown>;
      };
    };
    // Required fields of the AsyncAPI 3.0.0 spec.
    expect(doc.asyncapi).toBe('3.0.0');
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    for (const s of Object.values(doc.servers)) {
      expect(typeof s.host).toBe('string');
      expect(typeof s.protocol).toBe('string');
    }
    const KEY = /^[A-Za-z0-9.\-_]+$/;
    for (const map of [
      doc.channels,
      doc.operations,
      doc.components.messages,
      doc.components.schemas,
    ]) {
      for (const k of Object.keys(map)) expect(k).toMatch(KEY);
    }
    const resolve = (ref: string): unknown => {
      expect(ref.startsWith('#/')).toBe(true);
      let node: unknown = doc;
      for (const part of ref.slice(2).split('/')) {
        node = (node as Record<string, unknown>)?.[part];
        expect(node, `unresolved ${ref}`).toBeDefined();
      }
      return node;
    };
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref') resolve(v as string);
          else walk(v);
        }
      }
    };
    walk(doc);
    for (const ch of Object.values(doc.channels)) expect(typeof ch.address).toBe('string');
    for (const [id, op] of Object.entries(doc.operations)) {
      expect(['send', 'receive']).toContain(op.action);
      const channelRef = op.channel.$ref;
      // Operation messages must be messages of the operation's channel (AsyncAPI 3 rule).
      for (const m of [...op.messages, ...(op.reply?.messages ?? [])])
        expect(m.$ref.startsWith(`${channelRef}/messages/`), id).toBe(true);
    }
    for (const m of Object.values(doc.components.messages)) expect(typeof m.name).toBe('string');
    // Every event appears as an operation in the right direction, on each namespace that carries it.
    const ops = Object.keys(doc.operations);
    for (const e of clientEventNames) expect(ops).toContain(`root.receive.${e.replace(/:/g, '.')}`);
    for (const e of NAMESPACE_EVENTS['/communication'])
      expect(ops).toContain(`communication.receive.${e.replace(/:/g, '.')}`);
    for (const e of serverEventNames)
      expect(ops.some((o) => o.endsWith(`.send.${e.replace(/:/g, '.')}`))).toBe(true);
  });
});

describe('error and configuration references', () => {
  it('errors.md explains every error type (server and client-side)', () => {
    const md = read('docs/errors.md');
    for (const t of [...ERROR_TYPES, 'ACK_TIMEOUT', 'CLIENT_CLOSED'])
      expect(md, t).toMatch(new RegExp(`^### \`${t}\``, 'm'));
  });

  it('configuration.md documents every variable loadConfig reads', () => {
    const code = read('src/config/config.ts');
    const vars = new Set<string>();
    for (const m of code.matchAll(/\b(?:str|int|bool)\(env, '([A-Z0-9_]+)'/g)) vars.add(m[1]);
    for (const m of code.matchAll(/\benv\.([A-Z0-9_]+)/g)) vars.add(m[1]);
    for (const m of code.matchAll(/parseRateLimits\(str\(env, '([A-Z_]+)'\)/g)) vars.add(m[1]);
    expect(vars.size).toBeGreaterThan(20);
    const md = read('docs/configuration.md');
    const missing = [...vars].filter((v) => !md.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});

describe('performance-tuning.md quotes performance.md', () => {
  it('every ratio and throughput it states is one performance.md measured', () => {
    const tuning = read('docs/performance-tuning.md');
    const perf = read('docs/performance.md');
    const ratios = [...tuning.matchAll(/(\d+\.\d+)× bare/g)].map((m) => m[1]);
    expect(ratios.length).toBeGreaterThan(3);
    for (const r of ratios) expect(perf, `${r}× is not in performance.md`).toContain(`${r}×`);
    for (const m of tuning.matchAll(/(\d{1,2},\d{3}) (?:vs|msg\/s)/g))
      expect(perf, m[1]).toContain(m[1]);
    expect(tuning).not.toMatch(/more (messages )?per second than bare/);
  });
});
