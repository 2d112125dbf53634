/**
 * Log lines as an operator and a developer see them (#14.4), from a spawned `node dist/src/main.js`:
 * JSON when stdout is not a terminal, one start-up summary with the URLs, Nest's per-module lines
 * at debug, one line per refused handshake with its reason category, address and namespace and
 * never the token, no key twice in a line, a shutdown line; LOG_FORMAT=pretty for humans.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLogFormat } from '../src/observability/logger.js';
import { closeAll, connect, connectError } from './support/client.js';
import { startServerProcess, type ServerProcess } from './support/process.js';
import { startServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { defined, eventually } from './support/wait.js';

/**
 * Keys that occur twice in the same object of a raw JSON text (JSON.parse silently keeps the
 * last one, so this reads the text itself).
 */
export function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        if (top.has(s)) dups.push(s);
        top.add(s);
      }
      expectKey = false;
      i = j + 1;
      continue;
    }
    if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') stack.push(null);
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',') expectKey = stack[stack.length - 1] !== null;
    i++;
  }
  return dups;
}

interface Line {
  level: number;
  msg: string;
  context?: string;
  [key: string]: unknown;
}

describe('duplicateKeys (the checker itself)', () => {
  it('finds a repeated key and only that', () => {
    expect(duplicateKeys('{"context":"http","a":{"context":1},"context":"x"}')).toEqual([
      'context',
    ]);
    expect(duplicateKeys('{"a":[{"b":1},{"b":2}],"s":"{\\"a\\":1,\\"a\\":2}"}')).toEqual([]);
  });
});

describe('log format choice', () => {
  it('pretty on a terminal outside production, JSON otherwise, LOG_FORMAT forces', () => {
    expect(resolveLogFormat({ logFormat: 'auto', isProduction: false }, true)).toBe('pretty');
    expect(resolveLogFormat({ logFormat: 'auto', isProduction: false }, false)).toBe('json');
    expect(resolveLogFormat({ logFormat: 'auto', isProduction: true }, true)).toBe('json');
    expect(resolveLogFormat({ logFormat: 'json', isProduction: false }, true)).toBe('json');
    expect(resolveLogFormat({ logFormat: 'pretty', isProduction: true }, false)).toBe('pretty');
  });
});

describe('a spawned server logs JSON (stdout is a pipe)', () => {
  let sp: ServerProcess;
  let dataDir: string;
  const MARKER = 'TOKENMARKER9d2e';
  const lines = (): Line[] => sp.stdout.map((l) => JSON.parse(l) as Line);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wcr-logs-'));
    sp = await startServerProcess(
      {
        DATA_DIR: dataDir,
        // Three refused handshakes pass the per-address bucket, the fourth is refused by it.
        RATE_LIMITS: JSON.stringify({ 'handshake:ip': { maxTokens: 3, refillIntervalMs: 600000 } }),
      },
      90_000,
    );
  }, 120_000);
  afterAll(async () => {
    await sp?.stop('SIGKILL');
  });

  it('every line is JSON without a repeated key; one start-up summary with the URLs; Nest start-up at debug', async () => {
    const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
    // A request whose service logs inside it (once: "context":"http","context":"notifications").
    const svc = await signToken({
      userId: 'svc',
      organizationId: 'school-l',
      role: 'service',
      secret,
    });
    const res = await fetch(`${sp.url}/api/v1/notifications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        organizationId: 'school-l',
        userIds: ['nurse-l'],
        type: 'notice',
        title: 'Hello',
      }),
    });
    expect(res.status).toBe(202);
    await eventually(
      () => lines().find((l) => l.context === 'notifications' && l.req),
      defined,
      15_000,
      'notice log',
    );
    for (const raw of sp.stdout) expect(duplicateKeys(raw), raw).toEqual([]);
    const all = lines();
    const summaries = all.filter((l) => l.url !== undefined && l.context === 'main');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      level: 30,
      url: `http://localhost:${sp.port}`,
      demoUrl: `http://localhost:${sp.port}/`,
    });
    expect(summaries[0].msg).toContain(`listening on http://localhost:${sp.port}`);
    expect(summaries[0].msg).toContain(`demo page http://localhost:${sp.port}/`);
    // LOG_LEVEL=info: none of Nest's "XModule dependencies initialized" / "Mapped {…}" lines.
    expect(
      all.filter((l) =>
        ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(l.context ?? ''),
      ),
    ).toEqual([]);
    expect(all.length).toBeLessThan(10);
  });

  it('logs every refused handshake with its reason, address and namespace, never the token', async () => {
    const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
    const expired = await signToken({
      userId: `u-${MARKER}`,
      organizationId: 'school-l',
      ttl: -3600,
      secret,
    });
    await connectError(sp.url, undefined);
    await connectError(sp.url, `${MARKER}.${MARKER}.${MARKER}`, { namespace: '/communication' });
    await connectError(sp.url, expired);
    await connectError(sp.url, `${MARKER}.again`); // the per-address bucket is empty now
    await connectError(sp.url, undefined, {
      transports: ['polling'],
      extraHeaders: { origin: 'https://evil.example' },
    });
    const refused = await eventually(
      () => lines().filter((l) => l.msg.startsWith('handshake refused')),
      (r) => r.length >= 5,
      15_000,
      'five refusal lines',
    );
    expect(refused.map((l) => [l.reason, l.namespace])).toEqual([
      ['missing', '/'],
      ['invalid', '/communication'],
      ['expired', '/'],
      ['limit', '/'],
      ['origin', undefined],
    ]);
    for (const l of refused) {
      expect(l.level).toBe(40);
      expect(l.context).toBe('session');
      expect(l.address).toMatch(/127\.0\.0\.1/);
      expect(l.msg).toBe(`handshake refused: ${String(l.reason)}`);
    }
    const text = sp.stdout.join('\n') + sp.stderr.join('\n');
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain(expired.split('.')[1]);
    expect(text).not.toContain(expired.split('.')[2]);
  });

  it('says when it shuts down', async () => {
    expect(await sp.stop('SIGTERM')).toBe(0);
    const all = lines();
    expect(all.find((l) => l.msg === 'SIGTERM received: shutting down')).toMatchObject({
      context: 'main',
      signal: 'SIGTERM',
    });
    expect(all[all.length - 1]).toMatchObject({ msg: 'stopped', context: 'main' });
    for (const raw of sp.stdout) expect(duplicateKeys(raw), raw).toEqual([]);
  });
});

describe('LOG_FORMAT=pretty', () => {
  it('writes one human-readable line per entry, with clock time and the context', async () => {
    const sp = await startServerProcess(
      {
        DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-logs-')),
        LOG_FORMAT: 'pretty',
        DEMO_ENABLED: 'false',
      },
      90_000,
    );
    try {
      await connectError(sp.url, undefined);
      await fetch(`${sp.url}/nowhere`);
      const line = await eventually(
        () => sp.stdout.find((l) => l.includes('handshake refused: missing')),
        defined,
        15_000,
        'pretty refusal line',
      );
      expect(line).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN.*\[session\] handshake refused: missing/,
      );
      expect(line).toContain('reason');
      const summary = sp.stdout.find((l) => l.includes('listening on'));
      expect(summary).toMatch(
        /INFO.*\[main\] White Cross Realtime listening on http:\/\/localhost:\d+ · /,
      );
      expect(summary).not.toContain('demo page');
      expect(summary).not.toContain('"config"');
      expect(sp.stdout.some((l) => l.startsWith('{'))).toBe(false);
    } finally {
      await sp.stop('SIGKILL');
    }
  }, 150_000);
});

describe('in-process request logs', () => {
  it('have no repeated key either (request logger + service context)', async () => {
    const srv = await startServer();
    try {
      const t = await signToken({ userId: 'svc', organizationId: 'school-d', role: 'service' });
      const res = await fetch(`${srv.url}/api/v1/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          organizationId: 'school-d',
          userIds: ['nurse-d'],
          type: 'notice',
          title: 'Hi',
        }),
      });
      expect(res.status).toBe(202);
      const { socket } = await connect(srv.url, t);
      closeAll(socket);
      await eventually(
        () => srv.logs.some((l) => l.includes('"request completed"')),
        15_000,
        'request log',
      );
      const inRequest = srv.logs.filter((l) => l.includes('"notifications"'));
      expect(inRequest.length).toBeGreaterThan(0);
      for (const raw of srv.logs) expect(duplicateKeys(raw), raw).toEqual([]);
      const completed = srv.logs
        .map((l) => JSON.parse(l) as Line)
        .find((l) => l.msg === 'request completed');
      expect(completed?.context).toBe('http');
    } finally {
      await srv.close();
    }
  });
});
