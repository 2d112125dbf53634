import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, ok, settle, type TestSocket } from '../support/client.js';
import { connectReady } from '../support/realtime.js';
import { useServer } from '../support/server.js';
import { hasRedis, redisPrefix, REDIS_TEST_URL } from '../support/services.js';
import { uid as uniq } from '../support/ids.js';

/**
 * §12.5: families' online status is private. A parent watching the organization must not learn
 * when another family is online — neither from `presence:changed` nor from `presence:query` —
 * while the school's staff still see everyone. On the old code every parent's connect and
 * disconnect went to the whole organization and `presence:query` listed parents to parents.
 */

describe.each([
  { store: 'memory', redis: false },
  { store: 'redis', redis: true },
])('presence privacy of parents ($store)', ({ redis }) => {
  const skip = redis && !hasRedis();
  const srv = useServer(
    { env: redis ? { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix('privacy') } : {} },
    { skip },
  );
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  it.skipIf(skip)(
    'a parent’s presence:changed reaches admin, nurse, staff and service sessions only',
    async () => {
      const org = uniq('pp');
      const join = async (userId: string, role: string) => {
        const c = await connectReady(srv.url, { userId, organizationId: org, role }, [
          'presence:changed',
        ]);
        open.push(c.socket);
        return c;
      };
      const watchers = {
        admin: await join('adm', 'admin'),
        nurse: await join('nur', 'nurse'),
        staff: await join('stf', 'staff'),
        service: await join('svc', 'service'),
      };
      const otherParent = await join('parent-2', 'parent');
      const about = (
        c: { recorder: { of: (e: 'presence:changed') => Array<{ userId: string }> } },
        id: string,
      ) => c.recorder.of('presence:changed').filter((e) => e.userId === id);

      const parent = await join('parent-1', 'parent');
      for (const w of Object.values(watchers))
        await w.recorder.until((r) =>
          r.of('presence:changed').some((e) => e.userId === 'parent-1' && e.status === 'online'),
        );
      await ok(parent.socket, 'presence:update', { status: 'away' });
      for (const w of Object.values(watchers))
        await w.recorder.until((r) =>
          r.of('presence:changed').some((e) => e.userId === 'parent-1' && e.status === 'away'),
        );
      parent.socket.close();
      for (const w of Object.values(watchers))
        await w.recorder.until((r) =>
          r.of('presence:changed').some((e) => e.userId === 'parent-1' && e.status === 'offline'),
        );
      await settle(otherParent.socket);
      expect(about(otherParent, 'parent-1')).toEqual([]);

      // Everyone else's presence still goes to the whole organization, parents included.
      const teacher = await join('teacher', 'staff');
      await otherParent.recorder.until((r) =>
        r.of('presence:changed').some((e) => e.userId === 'teacher' && e.status === 'online'),
      );
      expect(teacher.confirmed.role).toBe('staff');
    },
  );

  it.skipIf(skip)(
    'presence:query from a parent answers about non-parents only; staff see parents',
    async () => {
      const org = uniq('pq');
      const join = async (userId: string, role: string) => {
        const c = await connectReady(srv.url, { userId, organizationId: org, role });
        open.push(c.socket);
        return c;
      };
      const nurse = await join('nurse-1', 'nurse');
      await join('parent-1', 'parent');
      const asker = await join('parent-2', 'parent');

      const all = await ok(asker.socket, 'presence:query', {});
      expect(all.users.map((u) => u.userId).sort()).toEqual(['nurse-1']);
      const listed = await ok(asker.socket, 'presence:query', {
        userIds: ['parent-1', 'nurse-1', 'parent-2'],
      });
      expect(listed.users.map((u) => [u.userId, u.status, typeof u.lastSeenAt])).toEqual([
        ['parent-1', 'offline', 'object'],
        ['nurse-1', 'online', 'string'],
        ['parent-2', 'offline', 'object'],
      ]);
      expect(listed.users[0].lastSeenAt).toBeNull();
      expect(listed.users[2].lastSeenAt).toBeNull();

      const staffView = await ok(nurse.socket, 'presence:query', { userIds: ['parent-1'] });
      expect(staffView.users.map((u) => [u.userId, u.status, typeof u.lastSeenAt])).toEqual([
        ['parent-1', 'online', 'string'],
      ]);
      const staffAll = await ok(nurse.socket, 'presence:query', {});
      expect(staffAll.users.map((u) => u.userId).sort()).toEqual([
        'nurse-1',
        'parent-1',
        'parent-2',
      ]);
    },
  );
});
