import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, ok } from './support/client.js';
import { conversation, GENEROUS_LIMITS, uid, user, type Client } from './support/messaging.js';
import { startServer, type TestServer, useServer } from './support/server.js';
import { createTestDatabase, hasPostgres } from './support/services.js';

const SENDERS = 5;
const EACH = 20;

/** 5 clients × 20 messages at once into one conversation, spread over the given servers. */
async function burst(servers: TestServer[]): Promise<void> {
  const org = uid('org');
  const ids = Array.from({ length: SENDERS }, (_, i) => uid(`s${i}`));
  const clients: Client[] = [];
  for (let i = 0; i < SENDERS; i++)
    clients.push(await user(servers[i % servers.length].url, ids[i], org));
  try {
    const conv = await conversation(clients[0], ids.slice(1));
    const acks = await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: EACH }, (_, j) =>
          ok(c.socket, 'message:send', {
            messageId: randomUUID(),
            conversationId: conv.id,
            content: `c${i} m${j}`,
          }),
        ),
      ),
    );
    const seqs = acks.map((a) => a.message.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: SENDERS * EACH }, (_, i) => i + 1));
    // History from every server agrees: 1..100, each once, each ack's message stored as acked.
    for (let i = 0; i < servers.length; i++) {
      const c = clients[i];
      const page1 = await ok(c.socket, 'conversation:join', {
        conversationId: conv.id,
        afterSeq: 0,
        limit: 100,
      });
      expect(page1.lastSeq, `server ${i}`).toBe(SENDERS * EACH);
      expect(page1.messages.map((m) => m.seq)).toEqual(seqs);
      const byId = new Map(page1.messages.map((m) => [m.id, m]));
      for (const a of acks) expect(byId.get(a.message.id)).toEqual(a.message);
    }
  } finally {
    closeAll(...clients.map((c) => c.socket));
  }
}

describe('seq under concurrent senders (invariant 3)', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  describe('on PGlite', () => {
    const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });

    it(
      '5 clients × 20 messages on one server: seq 1..100, no gap, no repeat',
      () => burst([srv]),
      60_000,
    );
  });

  describe.skipIf(!hasPostgres())('on PostgreSQL', () => {
    let drop: (() => Promise<void>) | undefined;
    afterAll(async () => {
      for (const s of servers.splice(0)) await s.close();
      await drop?.();
    });

    it('two server instances on one PostgreSQL: seq 1..100, no gap, no repeat; a repeated messageId across nodes stores once', async () => {
      const db = await createTestDatabase('msgconc');
      drop = db.drop;
      const one = await startServer({ databaseUrl: db.url, env: { RATE_LIMITS: GENEROUS_LIMITS } });
      servers.push(one);
      const two = await startServer({ databaseUrl: db.url, env: { RATE_LIMITS: GENEROUS_LIMITS } });
      servers.push(two);
      await burst([one, two]);

      // The same messageId through both nodes at once: one stored message, both acks return it.
      const org = uid('org');
      const a1 = await user(one.url, uid('a'), org);
      const a2 = await user(two.url, a1.userId, org);
      try {
        const conv = await conversation(a1, [uid('b')]);
        for (let round = 0; round < 5; round++) {
          const messageId = randomUUID();
          const acks = await Promise.all(
            [a1, a2, a1, a2].map((c) =>
              ok(c.socket, 'message:send', { messageId, conversationId: conv.id, content: 'dup' }),
            ),
          );
          for (const r of acks) expect(r.message).toEqual(acks[0].message);
          expect(acks[0].message.seq).toBe(round + 1);
        }
        const h = await ok(a2.socket, 'conversation:history', { conversationId: conv.id });
        expect(h.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      } finally {
        closeAll(a1.socket, a2.socket);
      }
    }, 60_000);
  });
});
