import { describe, expect, it } from 'vitest';
import { socketServerOf } from '../src/app.factory.js';
import { EventRouter } from '../src/gateway/router/event-router.js';
import { NAMESPACE_EVENTS } from '../src/protocol/events.js';
import { ok, rawRequest } from './support/client.js';
import { chatSuite, uid } from './support/messaging.js';

/**
 * An idle connection must not hold a function per handler: client events are served by the
 * EventRouter from one table per namespace through one listener shared by every socket of the
 * namespace. If handlers were bound per socket again (Nest's `@SubscribeMessage` binding), every
 * socket would carry ~20 listeners (≈ 6 KiB each).
 */
describe('client events are served by shared tables, not bound per socket', () => {
  const suite = chatSuite();

  it('a connected socket carries only shared listeners, and events are still served', async () => {
    const org = uid('org');
    const nurse = await suite.connectUser(uid('nurse'), org);
    const other = await suite.connectUser(uid('nurse'), org);
    expect((await ok(nurse.socket, 'ping')).pong).toBe(true);
    expect((await ok(other.socket, 'presence:query', {})).users).toBeDefined();

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
    // …and it is the same function object on every socket, as is the one onAny listener: the
    // router's listener of the namespace, which also answers events it does not serve.
    expect(sockets[0].listeners('disconnect')[0]).toBe(sockets[1].listeners('disconnect')[0]);
    expect(sockets[0].listenersAny()).toHaveLength(1);
    expect(sockets[0].listenersAny()[0]).toBe(sockets[1].listenersAny()[0]);
    // An event the namespace does not serve is answered by it (§11), counted under `unknown`.
    const unknown = await rawRequest(nurse.socket, 'no:such-event', {});
    expect(unknown).toMatchObject({ ok: false, error: { type: 'BAD_REQUEST' } });
  });

  it('each namespace is served exactly the events of the contract', () => {
    const router = suite.srv.app.get(EventRouter);
    for (const ns of ['/', '/communication'] as const)
      expect(router.eventsOf(ns).sort()).toEqual([...NAMESPACE_EVENTS[ns]].sort());
  });
});
