import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PresenceStore } from '../../src/presence/presence.store.js';

/**
 * The behaviour every PresenceStore implementation must have (memory and Redis run the same
 * suite). `make` returns a fresh, empty store.
 */
export function describePresenceStore(
  name: string,
  make: () => Promise<PresenceStore> | PresenceStore,
): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let store: PresenceStore;
    const t0 = new Date('2026-01-01T10:00:00.000Z');
    const t1 = new Date('2026-01-01T10:01:00.000Z');
    const t2 = new Date('2026-01-01T10:02:00.000Z');

    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await store.close();
    });

    it('first and last session of a user across several sessions', async () => {
      expect(await store.addSession('o1', 'u1', 's1', t0)).toEqual({ first: true });
      expect(await store.addSession('o1', 'u1', 's2', t0)).toEqual({ first: false });
      expect(await store.removeSession('o1', 'u1', 's1', t1)).toEqual({ last: false });
      expect(await store.get('o1', ['u1'])).toEqual([
        { userId: 'u1', status: 'online', lastSeenAt: t1.toISOString() },
      ]);
      expect(await store.removeSession('o1', 'u1', 's2', t2)).toEqual({ last: true });
      expect(await store.get('o1', ['u1'])).toEqual([
        { userId: 'u1', status: 'offline', lastSeenAt: t2.toISOString() },
      ]);
    });

    it('removing an unknown session changes nothing', async () => {
      expect(await store.removeSession('o1', 'ghost', 'sx', t0)).toEqual({ last: false });
      await store.addSession('o1', 'u1', 's1', t0);
      expect(await store.removeSession('o1', 'u1', 'other', t1)).toEqual({ last: false });
      expect((await store.get('o1', ['u1']))[0].status).toBe('online');
    });

    it('status holds while sessions exist; a new first session starts online', async () => {
      await store.addSession('o1', 'u1', 's1', t0);
      await store.setStatus('o1', 'u1', 'away', t1);
      await store.addSession('o1', 'u1', 's2', t1);
      expect(await store.get('o1', ['u1'])).toEqual([
        { userId: 'u1', status: 'away', lastSeenAt: t1.toISOString() },
      ]);
      await store.setStatus('o1', 'u1', 'offline', t1);
      expect((await store.get('o1', ['u1']))[0].status).toBe('offline');
      await store.removeSession('o1', 'u1', 's1', t2);
      await store.removeSession('o1', 'u1', 's2', t2);
      expect((await store.addSession('o1', 'u1', 's3', t2)).first).toBe(true);
      expect((await store.get('o1', ['u1']))[0].status).toBe('online');
    });

    it('unknown users and other organizations come back offline with lastSeenAt null', async () => {
      await store.addSession('o1', 'u1', 's1', t0);
      expect(await store.get('o2', ['u1', 'nobody'])).toEqual([
        { userId: 'u1', status: 'offline', lastSeenAt: null },
        { userId: 'nobody', status: 'offline', lastSeenAt: null },
      ]);
    });

    it('listActive returns online and away users of the organization only', async () => {
      await store.addSession('o1', 'a', 's1', t0);
      await store.addSession('o1', 'b', 's2', t0);
      await store.addSession('o1', 'c', 's3', t0);
      await store.addSession('o1', 'd', 's4', t0);
      await store.addSession('o2', 'x', 's5', t0);
      await store.setStatus('o1', 'b', 'away', t1);
      await store.setStatus('o1', 'c', 'offline', t1);
      await store.removeSession('o1', 'd', 's4', t1);
      const active = (await store.listActive('o1')).sort((p, q) =>
        p.userId.localeCompare(q.userId),
      );
      expect(active.map((e) => [e.userId, e.status])).toEqual([
        ['a', 'online'],
        ['b', 'away'],
      ]);
      expect((await store.listActive('o2')).map((e) => e.userId)).toEqual(['x']);
    });
  });
}
