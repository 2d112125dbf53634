import { describe, expect, it } from 'vitest';
import { EmitBatcher } from '../src/gateway/publisher/emit-batcher.js';
import { socketServerOf } from '../src/app.factory.js';
import { RealtimePublisher } from '../src/gateway/publisher/realtime.publisher.js';
import { chatSuite, uid } from './support/messaging.js';

interface TcpSocket {
  _write: (...a: unknown[]) => unknown;
  _writev: (...a: unknown[]) => unknown;
}

/**
 * A window of fan-out emits (presence announcements of a connect storm) reaches each socket in
 * one write: every socket flushes once, after the whole run (deferred-flush.ts), instead of
 * sending the run's first frame at once and the rest after that write completed.
 */
describe('fan-out windows: one write per socket per window', () => {
  const suite = chatSuite();

  it('25 presence:changed of one window reach a member complete, in order, in one write', async () => {
    const org = uid('org');
    const watcher = await suite.connectUser(uid('watcher'), org, { record: ['presence:changed'] });
    // The watcher's own `online` goes out in a presence window of its own (10 ms, longer on a
    // loaded machine): wait for it, so that only the test's window is counted below.
    await watcher.recorder.until(
      (r) => r.of('presence:changed').some((p) => p.userId === watcher.userId),
      undefined,
      'the watcher’s own online',
    );
    const before = watcher.recorder.of('presence:changed').length;
    const publisher = suite.srv.app.get(RealtimePublisher);
    const server = [...socketServerOf(suite.srv.app).of('/').sockets.values()].find(
      (s) => s.data.user.userId === watcher.userId,
    );
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
    const batcher = new EmitBatcher(60_000, 1000);
    const users = Array.from({ length: 25 }, (_, i) => `${org}-p${i}`);
    const done = users.map((userId) =>
      batcher.add(() =>
        publisher.toOrg(org, 'presence:changed', {
          userId,
          status: 'online',
          lastSeenAt: new Date().toISOString(),
        }),
      ),
    );
    batcher.flush();
    await Promise.all(done);
    await watcher.recorder.until(
      (r) => r.of('presence:changed').length === before + users.length,
      undefined,
      '25 announcements',
    );
    expect(
      watcher.recorder
        .of('presence:changed')
        .slice(before)
        .map((p) => p.userId),
    ).toEqual(users);
    // Without the deferral: the first frame at once, the other 24 in a second write.
    expect(writes).toBe(1);
  });
});
