import { afterAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  ok,
  rawRequest,
  request,
  settle,
  type Recorder,
  type TestSocket,
} from './support/client.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import type { ServerEventName } from '../src/protocol/events.js';
import type { PresenceEntry } from '../src/protocol/models.js';

/** Connects and waits until the connect hooks up to notification sync (30) have run. */
async function ready(
  url: string,
  userId: string,
  organizationId: string,
  record: ServerEventName[] = [],
) {
  const token = await signToken({ userId, organizationId, role: 'staff' });
  const c = await connect(url, token, {
    record: [...new Set<ServerEventName>([...record, 'notification:sync'])],
  });
  await c.recorder.until((r) => r.of('notification:sync').length > 0, 5000, 'notification:sync');
  return c;
}

/** `presence:query` without any payload (only the ack), as the contract allows. */
async function queryAll(socket: TestSocket): Promise<{ users: PresenceEntry[] }> {
  const res = await rawRequest(socket, 'presence:query');
  if (!res.ok) throw new Error(`presence:query failed: ${res.error.type}`);
  return res.data as { users: PresenceEntry[] };
}

const changesOf = (r: Recorder, userId: string) =>
  r.of('presence:changed').filter((e) => e.userId === userId);

describe('presence', () => {
  const srv = useServer();
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  it('two sessions of one user: online once, offline once with lastSeenAt; other org sees nothing', async () => {
    const bob = await ready(srv.url, 'p-bob', 'pA', ['presence:changed']);
    const carol = await ready(srv.url, 'p-carol', 'pB', ['presence:changed']);
    open.push(bob.socket, carol.socket);

    const s1 = await ready(srv.url, 'p-alice', 'pA');
    const online = await bob.recorder
      .until((r) => changesOf(r, 'p-alice').length === 1)
      .then(() => changesOf(bob.recorder, 'p-alice')[0]);
    expect(online.status).toBe('online');
    expect(new Date(online.lastSeenAt!).toISOString()).toBe(online.lastSeenAt);

    const s2 = await ready(srv.url, 'p-alice', 'pA');
    await settle(bob.socket);
    expect(changesOf(bob.recorder, 'p-alice')).toHaveLength(1); // the second session emits nothing

    // away holds across sessions
    expect(await ok(s1.socket, 'presence:update', { status: 'away' })).toEqual({ status: 'away' });
    await bob.recorder.until((r) => changesOf(r, 'p-alice').length === 2);
    expect(changesOf(bob.recorder, 'p-alice')[1].status).toBe('away');
    expect(await ok(s1.socket, 'presence:update', { status: 'away' })).toEqual({ status: 'away' }); // same status: no event

    s2.socket.close();
    let q = await ok(bob.socket, 'presence:query', { userIds: ['p-alice'] });
    expect(q.users[0].status).toBe('away');

    s1.socket.close();
    await bob.recorder.until((r) => changesOf(r, 'p-alice').length === 3);
    const offline = changesOf(bob.recorder, 'p-alice')[2];
    expect(offline.status).toBe('offline');
    expect(offline.lastSeenAt).not.toBeNull();
    q = await ok(bob.socket, 'presence:query', { userIds: ['p-alice'] });
    expect(q.users).toEqual([
      { userId: 'p-alice', status: 'offline', lastSeenAt: offline.lastSeenAt },
    ]);

    await settle(carol.socket);
    expect(carol.recorder.of('presence:changed').filter((e) => e.userId !== 'p-carol')).toEqual([]);
  });

  it('a new first session starts online again; appear offline hides the user until it reconnects', async () => {
    const watcher = await ready(srv.url, 'p-watch', 'pC', ['presence:changed']);
    open.push(watcher.socket);
    const dan = await ready(srv.url, 'p-dan', 'pC');
    await watcher.recorder.until((r) => changesOf(r, 'p-dan').length === 1);

    await ok(dan.socket, 'presence:update', { status: 'offline' });
    await watcher.recorder.until((r) => changesOf(r, 'p-dan').length === 2);
    expect(changesOf(watcher.recorder, 'p-dan')[1].status).toBe('offline');
    let all = await queryAll(watcher.socket);
    expect(all.users.map((u) => u.userId)).not.toContain('p-dan');
    expect(
      (await ok(watcher.socket, 'presence:query', { userIds: ['p-dan'] })).users[0].status,
    ).toBe('offline');

    // Disconnecting while appearing offline changes nothing visible: the next event is the reconnect.
    dan.socket.close();
    const again = await ready(srv.url, 'p-dan', 'pC');
    open.push(again.socket);
    await watcher.recorder.until((r) => changesOf(r, 'p-dan').length === 3);
    expect(changesOf(watcher.recorder, 'p-dan').map((e) => e.status)).toEqual([
      'online',
      'offline',
      'online',
    ]);
    all = await queryAll(watcher.socket);
    expect(all.users.map((u) => u.userId).sort()).toEqual(['p-dan', 'p-watch']);
  });

  it('query is limited to the own organization', async () => {
    const eve = await ready(srv.url, 'p-eve', 'pD');
    const frank = await ready(srv.url, 'p-frank', 'pE');
    open.push(eve.socket, frank.socket);
    await ok(eve.socket, 'presence:update', { status: 'away' });
    const q = await ok(frank.socket, 'presence:query', {
      userIds: ['p-eve', 'p-nobody', 'p-frank'],
    });
    expect(q.users).toEqual([
      { userId: 'p-eve', status: 'offline', lastSeenAt: null },
      { userId: 'p-nobody', status: 'offline', lastSeenAt: null },
      expect.objectContaining({ userId: 'p-frank', status: 'online' }),
    ]);
    const all = await queryAll(frank.socket);
    expect(all.users.map((u) => u.userId)).toEqual(['p-frank']);
    const mine = await ok(eve.socket, 'presence:query', {});
    expect(mine.users).toEqual([expect.objectContaining({ userId: 'p-eve', status: 'away' })]);
  });

  it('validates presence payloads', async () => {
    const g = await ready(srv.url, 'p-gina', 'pF');
    open.push(g.socket);
    const bad = await request(g.socket, 'presence:update', { status: 'busy' as 'away' });
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.error).toMatchObject({
        type: 'VALIDATION_ERROR',
        details: [{ field: 'status', constraints: ['isIn'] }],
      });
    const badIds = await request(g.socket, 'presence:query', { userIds: ['ok', 'not ok'] });
    expect(badIds.ok).toBe(false);
    if (!badIds.ok)
      expect(badIds.error.details).toEqual([{ field: 'userIds.1', constraints: ['matches'] }]);
  });

  it('presence counts / sockets only: a /communication socket does not make a user online', async () => {
    const w = await ready(srv.url, 'p-w2', 'pG', ['presence:changed']);
    open.push(w.socket);
    const token = await signToken({ userId: 'p-comm', organizationId: 'pG' });
    const comm = await connect(srv.url, token, { namespace: '/communication' });
    open.push(comm.socket);
    await ok(comm.socket, 'ping');
    const q = await ok(w.socket, 'presence:query', { userIds: ['p-comm'] });
    expect(q.users[0]).toEqual({ userId: 'p-comm', status: 'offline', lastSeenAt: null });
  });
});
