import { describe, expect, it } from 'vitest';
import { socketServerOf } from '../src/app.factory.js';
import { ok } from './support/client.js';
import { chatSuite, uid } from './support/messaging.js';

/**
 * An idle connection must not hold a function per handler: gateway handlers are served from one
 * table per namespace by shared listeners (RealtimeIoAdapter.bindSharedHandlers). If a Nest
 * upgrade routed around it, every socket would again carry ~20 listeners (≈ 6 KiB each).
 */
describe('gateway handlers are shared, not bound per socket', () => {
  const suite = chatSuite();

  it('a connected socket carries only shared listeners, and events are still served', async () => {
    const org = uid('org');
    const nurse = await suite.connectUser(uid('nurse'), org);
    const other = await suite.connectUser(uid('nurse'), org);
    expect((await ok(nurse.socket, 'ping')).pong).toBe(true);

    const io = socketServerOf(suite.srv.app);
    const sockets = [...io.of('/').sockets.values()].filter((s) =>
      [nurse.userId, other.userId].includes(s.data.user.userId),
    );
    expect(sockets).toHaveLength(2);
    for (const s of sockets) {
      // No listener per event name: the shared disconnect listener and Socket.IO's own `error` no-op.
      expect([...s.eventNames()].sort()).toEqual(['disconnect', 'error']);
      expect(s.listeners('disconnect')).toHaveLength(1);
    }
    // …and it is the same function object on every socket, as are the onAny listeners.
    expect(sockets[0].listeners('disconnect')[0]).toBe(sockets[1].listeners('disconnect')[0]);
    expect(sockets[0].listenersAny()).toEqual(sockets[1].listenersAny());
    expect(sockets[0].listenersAny().length).toBeLessThanOrEqual(3);
  });
});
