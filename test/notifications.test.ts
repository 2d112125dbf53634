import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, ok, request, settle, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import { auditText, connectReady } from './support/realtime.js';
import { useServer } from './support/server.js';
import { hasPostgres } from './support/services.js';
import { signToken } from './support/tokens.js';

const MARKER = 'PHI-NOTE-7f3a9c';

/** The suite on PGlite, or on a PostgreSQL database of its own (`postgres`: its label). */
function suite(label: string, postgres?: string) {
  describe(`notifications (${label})`, () => {
    const srv = useServer({}, { postgres });
    let service: string;
    const open: TestSocket[] = [];
    beforeAll(async () => {
      service = await signToken({ userId: 'svc', organizationId: 'nA', role: 'service' });
    });
    afterAll(async () => {
      closeAll(...open);
    });

    it('by id and by role: every session of every recipient, nobody else, no other organization', async () => {
      const rec = ['notification:new', 'notification:read'] as const;
      const n1a = await connectReady(
        srv.url,
        { userId: 'n-nurse', organizationId: 'nA', role: 'nurse' },
        [...rec],
      );
      const n1b = await connectReady(
        srv.url,
        { userId: 'n-nurse', organizationId: 'nA', role: 'nurse' },
        [...rec],
      );
      const st = await connectReady(
        srv.url,
        { userId: 'n-staff', organizationId: 'nA', role: 'staff' },
        [...rec],
      );
      const other = await connectReady(
        srv.url,
        { userId: 'n-other', organizationId: 'nA', role: 'staff' },
        [...rec],
      );
      const adm = await connectReady(
        srv.url,
        { userId: 'n-admin', organizationId: 'nA', role: 'admin' },
        [...rec],
      );
      const foreign = await connectReady(
        srv.url,
        { userId: 'n-fnurse', organizationId: 'nB', role: 'nurse' },
        [...rec],
      );
      // the same user id in another organization is another person
      const twin = await connectReady(
        srv.url,
        { userId: 'n-staff', organizationId: 'nB', role: 'staff' },
        [...rec],
      );
      open.push(
        n1a.socket,
        n1b.socket,
        st.socket,
        other.socket,
        adm.socket,
        foreign.socket,
        twin.socket,
      );

      const res = await http<{ ids: string[]; recipients: number }>(
        srv.url,
        'POST',
        '/api/v1/notifications',
        {
          token: service,
          body: {
            organizationId: 'nA',
            roles: ['nurse'],
            userIds: ['n-staff'],
            type: 'health:update',
            title: MARKER,
            body: `${MARKER} body`,
            priority: 'high',
            data: { ref: 'x1' },
          },
        },
      );
      expect(res.status).toBe(202);
      expect(res.body.recipients).toBe(2);
      expect(res.body.ids).toHaveLength(2);

      for (const c of [n1a, n1b, st])
        await c.recorder.until((r) => r.of('notification:new').length === 1);
      const got = n1a.recorder.of('notification:new')[0].notification;
      expect(got).toMatchObject({
        type: 'health:update',
        title: MARKER,
        body: `${MARKER} body`,
        priority: 'high',
        data: { ref: 'x1' },
        readAt: null,
      });
      expect(res.body.ids).toContain(got.id);
      expect(n1b.recorder.of('notification:new')[0].notification.id).toBe(got.id);
      expect(st.recorder.of('notification:new')[0].notification.id).not.toBe(got.id);
      for (const c of [other, adm, foreign, twin]) {
        await settle(c.socket);
        expect(c.recorder.of('notification:new')).toEqual([]);
      }

      // read: own only, synced to every session, twice → first readAt
      const read = await ok(n1a.socket, 'notification:read', { notificationId: got.id });
      expect(read.notificationId).toBe(got.id);
      for (const c of [n1a, n1b])
        await c.recorder.until((r) => r.of('notification:read').length === 1);
      expect(n1b.recorder.of('notification:read')[0]).toEqual(read);
      const again = await ok(n1b.socket, 'notification:read', { notificationId: got.id });
      expect(again.readAt).toBe(read.readAt);
      const stolen = await request(st.socket, 'notification:read', { notificationId: got.id });
      expect(stolen.ok ? null : stolen.error.type).toBe('RESOURCE_NOT_FOUND');
      const foreignRead = await request(foreign.socket, 'notification:read', {
        notificationId: got.id,
      });
      expect(foreignRead.ok ? null : foreignRead.error.type).toBe('RESOURCE_NOT_FOUND');
      await settle(st.socket);
      expect(st.recorder.of('notification:read')).toEqual([]);

      // sync on connect: newest unread and the count
      const st2 = await connectReady(srv.url, {
        userId: 'n-staff',
        organizationId: 'nA',
        role: 'staff',
      });
      const n3 = await connectReady(srv.url, {
        userId: 'n-nurse',
        organizationId: 'nA',
        role: 'nurse',
      });
      open.push(st2.socket, n3.socket);
      const sync = st2.recorder.of('notification:sync')[0];
      expect(sync.unreadCount).toBe(1);
      expect(sync.unread.map((n) => n.title)).toEqual([MARKER]);
      expect(n3.recorder.of('notification:sync')[0]).toEqual({ unread: [], unreadCount: 0 });
    });

    it('sync holds the newest 100 unread and the full count', async () => {
      const token = await signToken({ userId: 'adm-s', organizationId: 'nS', role: 'admin' });
      for (let i = 0; i < 3; i++) {
        const r = await http(srv.url, 'POST', '/api/v1/notifications', {
          token,
          body: {
            organizationId: 'nS',
            userIds: Array.from({ length: 1 }, () => 'n-many'),
            type: 'bulk',
            title: `t${i}`,
          },
        });
        expect(r.status).toBe(202);
      }
      const many = Array.from({ length: 100 }, (_, i) => i);
      for (const i of many) {
        const r = await http(srv.url, 'POST', '/api/v1/notifications', {
          token,
          body: { organizationId: 'nS', userIds: ['n-many'], type: 'bulk', title: `m${i}` },
        });
        expect(r.status).toBe(202);
      }
      const c = await connectReady(srv.url, { userId: 'n-many', organizationId: 'nS' });
      open.push(c.socket);
      const sync = c.recorder.of('notification:sync')[0];
      expect(sync.unreadCount).toBe(103);
      expect(sync.unread).toHaveLength(100);
      expect(sync.unread.map((n) => n.title)).not.toContain('t0');
    });

    it('roles resolve through members only; an admin only for its own organization', async () => {
      const admin = await signToken({ userId: 'n-admin', organizationId: 'nA', role: 'admin' });
      const none = await http(srv.url, 'POST', '/api/v1/notifications', {
        token: admin,
        body: { organizationId: 'nA', roles: ['parent'], type: 'x', title: 't' },
      });
      expect(none.status).toBe(202);
      expect(none.body).toEqual({ ids: [], recipients: 0 });
      const cross = await http(srv.url, 'POST', '/api/v1/notifications', {
        token: admin,
        body: { organizationId: 'nB', roles: ['nurse'], type: 'x', title: 't' },
      });
      expect(cross.status).toBe(403);
      expect(cross.body).toMatchObject({ type: 'AUTHORIZATION_FAILED' });
      const noTarget = await http(srv.url, 'POST', '/api/v1/notifications', {
        token: admin,
        body: { organizationId: 'nA', type: 'x', title: 't' },
      });
      expect(noTarget.status).toBe(400);
      expect(noTarget.body).toMatchObject({ type: 'VALIDATION_ERROR' });
    });

    it('no notification text in any log line or audit row', async () => {
      const text = srv.logs.join('\n');
      expect(text).not.toContain(MARKER);
      const audit = await auditText(srv.database.db as never);
      expect(audit).toContain('notification.sent');
      expect(audit).not.toContain(MARKER);
    });
  });
}

suite('PGlite');
describe.skipIf(!hasPostgres())('on PostgreSQL', () => {
  suite('PostgreSQL', 'notif');
});
