import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { socketServerOf } from '../src/app.factory.js';
import { ok } from './support/client.js';
import { chatSuite, conversation, uid } from './support/messaging.js';

interface TcpSocket {
  _write: (...a: unknown[]) => unknown;
  _writev: (...a: unknown[]) => unknown;
}

describe('WebSocket corking: one flush, one write', () => {
  const suite = chatSuite();
  const { connectUser } = suite;

  it('a burst of 40 messages reaches the recipient complete and in order in far fewer writes', async () => {
    const org = uid('org');
    const alice = await connectUser(uid('alice'), org);
    const bob = await connectUser(uid('bob'), org);
    const conv = await conversation(alice, [bob.userId]);

    // Bob's server-side TCP socket, under engine.io's WebSocket transport and ws.
    const io = socketServerOf(suite.srv.app);
    const server = [...io.of('/').sockets.values()].find((s) => s.data.user.userId === bob.userId);
    const tcp = (server?.conn as unknown as { transport: { socket: { _socket: TcpSocket } } })
      .transport.socket._socket;
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      const original = tcp[name];
      tcp[name] = function (this: unknown, ...a: unknown[]) {
        writes++;
        return original.apply(this, a);
      };
    }

    // Sent at once: stored in one group commit, then 40 message:new to Bob in one loop.
    const acks = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ok(alice.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: conv.id,
          content: `dose check ${i}`,
        }),
      ),
    );
    await bob.recorder.until((r) => r.of('message:new').length === 40, undefined, '40 messages');
    const seqs = bob.recorder.of('message:new').map((p) => p.message.seq);
    expect(seqs).toEqual(acks.map((a) => a.message.seq).sort((a, b) => a - b));
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Without corking each frame is its own write (40); with it, a flush is one write.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(10);
  });
});
