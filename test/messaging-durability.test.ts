import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../src/persistence/database.js';
import { closeAll, ok } from './support/client.js';
import { conversation, GENEROUS_LIMITS, uid, user } from './support/messaging.js';
import { startServerProcess } from './support/process.js';
import { startServer } from './support/server.js';
import { createTestDatabase, hasPostgres } from './support/services.js';
import { TEST_JWT_SECRET } from './support/tokens.js';

/** Sends `n` messages (acked) into a fresh conversation; returns what to look for afterwards. */
async function sendAcked(url: string, n: number) {
  const org = uid('org');
  const a = await user(url, uid('a'), org);
  const bId = uid('b');
  try {
    const conv = await conversation(a, [bId]);
    const acked = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        ok(a.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conv.id,
          content: `durable ${i}`,
        }).then((r) => r.message),
      ),
    );
    return {
      org,
      userId: a.userId,
      bId,
      conversationId: conv.id,
      acked: acked.sort((x, y) => x.seq - y.seq),
    };
  } finally {
    a.socket.close();
  }
}

/** After the restart: history holds every acked message as acked, and the offline participant gets them replayed. */
async function expectAllThere(
  url: string,
  sent: Awaited<ReturnType<typeof sendAcked>>,
): Promise<void> {
  const a = await user(url, sent.userId, sent.org);
  const b = await user(url, sent.bId, sent.org);
  try {
    const page = await ok(a.socket, 'conversation:join', {
      conversationId: sent.conversationId,
      afterSeq: 0,
      limit: 100,
    });
    expect(page.messages).toEqual(sent.acked);
    expect(page.lastSeq).toBe(sent.acked.length);
    await b.recorder.until((r) => r.of('message:new').length === sent.acked.length);
    expect(b.recorder.of('message:new').map((e) => e.message)).toEqual(sent.acked);
    // And the sequence goes on without a gap.
    const { message } = await ok(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: sent.conversationId,
      content: 'after',
    });
    expect(message.seq).toBe(sent.acked.length + 1);
  } finally {
    closeAll(a.socket, b.socket);
  }
}

describe('acknowledged messages survive restarts (invariant 2)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('PGlite data directory: server closed and the database reopened', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wcr-msg-pglite-'));
    dirs.push(dataDir);
    const db1 = await openPglite({ dataDir });
    const srv1 = await startServer({ database: db1, env: { RATE_LIMITS: GENEROUS_LIMITS } });
    const sent = await sendAcked(srv1.url, 30);
    await srv1.close();
    await db1.close();
    const db2 = await openPglite({ dataDir });
    const srv2 = await startServer({ database: db2, env: { RATE_LIMITS: GENEROUS_LIMITS } });
    try {
      await expectAllThere(srv2.url, sent);
    } finally {
      await srv2.close();
      await db2.close();
    }
  }, 150_000);

  it.skipIf(!hasPostgres())(
    'PostgreSQL: a new server on the same database',
    async () => {
      const db = await createTestDatabase('msgrestart');
      try {
        const srv1 = await startServer({
          databaseUrl: db.url,
          env: { RATE_LIMITS: GENEROUS_LIMITS },
        });
        const sent = await sendAcked(srv1.url, 30);
        await srv1.close();
        const srv2 = await startServer({
          databaseUrl: db.url,
          env: { RATE_LIMITS: GENEROUS_LIMITS },
        });
        try {
          await expectAllThere(srv2.url, sent);
        } finally {
          await srv2.close();
        }
      } finally {
        await db.drop();
      }
    },
    120_000,
  );

  const killCases = [
    { name: 'embedded PGlite (DATA_DIR)', pg: false },
    ...(hasPostgres() ? [{ name: 'PostgreSQL', pg: true }] : []),
  ];
  for (const c of killCases) {
    it(`kill -9 of a real server process on ${c.name}: every acked message is there after the restart`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'wcr-msg-kill-'));
      dirs.push(dataDir);
      const db = c.pg ? await createTestDatabase('msgkill') : undefined;
      const env = {
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: dataDir,
        RATE_LIMITS: GENEROUS_LIMITS,
        LOG_LEVEL: 'warn',
        ...(db ? { DATABASE_URL: db.url } : {}),
      };
      try {
        const p1 = await startServerProcess(env, 120_000);
        let sent: Awaited<ReturnType<typeof sendAcked>>;
        try {
          sent = await sendAcked(p1.url, 40);
        } finally {
          await p1.stop('SIGKILL');
        }
        const p2 = await startServerProcess(env, 120_000);
        try {
          await expectAllThere(p2.url, sent);
        } finally {
          await p2.stop('SIGKILL');
        }
      } finally {
        await db?.drop();
      }
    }, 240_000);
  }
});
