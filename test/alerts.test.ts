import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, ok, request, settle, type TestSocket } from './support/client.js';
import { http } from './support/http.js';
import { auditText, connectReady } from './support/realtime.js';
import { useServer } from './support/server.js';
import { hasPostgres } from './support/services.js';
import { signToken } from './support/tokens.js';
import type { Alert } from '../src/protocol/models.js';
import type { ServerEventName } from '../src/protocol/events.js';

const MARKER = 'PHI-ALERT-51c2e8';
const ALERT_EVENTS: ServerEventName[] = [
  'alert:emergency',
  'alert:resolved',
  'alert:health',
  'alert:medication-reminder',
];

type Status = {
  alert: Alert;
  recipients: { targeted: number; delivered: number; acknowledged: number };
};

/** The suites on PGlite, or on a PostgreSQL database of their own (`postgres`: its label). */
function suite(label: string, postgres?: string) {
  describe(`alerts (${label})`, () => {
    const srv = useServer({}, { postgres });
    let service: string;
    const open: TestSocket[] = [];
    const who = (userId: string, role: string, organizationId = 'aA') => ({
      userId,
      role,
      organizationId,
    });
    beforeAll(async () => {
      service = await signToken({ userId: 'svc', organizationId: 'aA', role: 'service' });
    });
    afterAll(async () => {
      closeAll(...open);
    });
    const status = async (id: string) => {
      const r = await http<Status>(srv.url, 'GET', `/api/v1/alerts/${id}`, { token: service });
      expect(r.status).toBe(200);
      return r.body;
    };

    it('emergency: every member of the organization, nobody else; late users get it replayed; counts match', async () => {
      const nurse = await connectReady(srv.url, who('a-nurse', 'nurse'), ALERT_EVENTS);
      const staff1 = await connectReady(srv.url, who('a-staff', 'staff'), ALERT_EVENTS);
      const staff2 = await connectReady(srv.url, who('a-staff', 'staff'), ALERT_EVENTS);
      const admin = await connectReady(srv.url, who('a-admin', 'admin'), ALERT_EVENTS);
      const foreign = await connectReady(srv.url, who('a-foreign', 'nurse', 'aB'), ALERT_EVENTS);
      open.push(nurse.socket, staff1.socket, staff2.socket, admin.socket, foreign.socket);

      const res = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: {
          organizationId: 'aA',
          title: MARKER,
          message: `${MARKER} message`,
          location: 'Gym',
        },
      });
      expect(res.status).toBe(202);
      const alert = res.body.alert;
      // `targeted` is stored with the alert in its transaction (§12.4; the recipient rows of an
      // emergency follow the commit), so any node reports it from the 202 on.
      expect(
        await srv.database.prepared<{ targeted: number }>(
          'test_alert_targeted',
          'SELECT targeted FROM alerts WHERE id = $1',
          [alert.id],
        ),
      ).toEqual([{ targeted: 3 }]);
      expect(alert).toMatchObject({
        kind: 'emergency',
        organizationId: 'aA',
        severity: 'critical',
        title: MARKER,
        location: 'Gym',
      });
      expect(alert.resolvedAt).toBeUndefined();

      for (const c of [nurse, staff1, staff2, admin])
        await c.recorder.until((r) => r.of('alert:emergency').length === 1);
      const got = staff2.recorder.of('alert:emergency')[0];
      expect(got).toEqual({ alert });
      await settle(foreign.socket);
      expect(foreign.recorder.of('alert:emergency')).toEqual([]);

      expect((await status(alert.id)).recipients).toEqual({
        targeted: 3,
        delivered: 3,
        acknowledged: 0,
      });

      // a user connecting later (even one never seen before) gets it with replayed: true
      const late = await connectReady(srv.url, who('a-late', 'parent'), ALERT_EVENTS);
      open.push(late.socket);
      await late.recorder.until((r) => r.of('alert:emergency').length === 1);
      expect(late.recorder.of('alert:emergency')[0]).toEqual({ alert, replayed: true });
      // §12.4: a late joiner counts in delivered (and acknowledged), not in targeted.
      expect((await status(alert.id)).recipients).toEqual({
        targeted: 3,
        delivered: 4,
        acknowledged: 0,
      });

      // acknowledge: recipients only; another organization's alert does not exist
      const ack = await ok(nurse.socket, 'alert:acknowledge', { alertId: alert.id });
      expect(ack.alertId).toBe(alert.id);
      expect(new Date(ack.acknowledgedAt).toISOString()).toBe(ack.acknowledgedAt);
      expect(
        (await ok(nurse.socket, 'alert:acknowledge', { alertId: alert.id })).acknowledgedAt,
      ).toBe(ack.acknowledgedAt);
      const cross = await request(foreign.socket, 'alert:acknowledge', { alertId: alert.id });
      expect(cross.ok ? null : cross.error.type).toBe('RESOURCE_NOT_FOUND');
      const missing = await request(foreign.socket, 'alert:acknowledge', {
        alertId: 'no-such-alert',
      });
      expect(missing.ok ? null : missing.error.type).toBe('RESOURCE_NOT_FOUND');
      expect((await status(alert.id)).recipients).toEqual({
        targeted: 3,
        delivered: 4,
        acknowledged: 1,
      });

      // a second emergency; on reconnect the nurse gets only the one she has not acknowledged
      const second = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: { organizationId: 'aA', title: 'Second', message: 'm', severity: 'warning' },
      });
      expect(second.status).toBe(202);
      const nurse2 = await connectReady(srv.url, who('a-nurse', 'nurse'), ALERT_EVENTS);
      open.push(nurse2.socket);
      await nurse2.recorder.until((r) => r.of('alert:emergency').length >= 1);
      await settle(nurse2.socket);
      expect(nurse2.recorder.of('alert:emergency').map((e) => [e.alert.id, e.replayed])).toEqual([
        [second.body.alert.id, true],
      ]);

      // resolve: the audience gets alert:resolved; again → the same, nothing emitted
      const resolved = await http<{ alert: Alert }>(
        srv.url,
        'POST',
        `/api/v1/alerts/${alert.id}/resolve`,
        { token: service },
      );
      expect(resolved.status).toBe(200);
      expect(resolved.body.alert.resolvedAt).toBeDefined();
      for (const c of [nurse, staff1, staff2, admin, late, nurse2]) {
        await c.recorder.until((r) => r.of('alert:resolved').length === 1);
        expect(c.recorder.of('alert:resolved')[0]).toEqual({
          alertId: alert.id,
          resolvedAt: resolved.body.alert.resolvedAt,
        });
      }
      const again = await http<{ alert: Alert }>(
        srv.url,
        'POST',
        `/api/v1/alerts/${alert.id}/resolve`,
        { token: service },
      );
      expect(again.status).toBe(200);
      expect(again.body).toEqual(resolved.body);
      for (const c of [staff1, foreign]) await settle(c.socket);
      expect(staff1.recorder.of('alert:resolved')).toHaveLength(1);
      expect(foreign.recorder.of('alert:resolved')).toEqual([]);
      expect((await status(alert.id)).alert).toEqual(resolved.body.alert);

      // a resolved alert is not replayed; the active one still is
      const late2 = await connectReady(srv.url, who('a-late2', 'staff'), ALERT_EVENTS);
      open.push(late2.socket);
      await late2.recorder.until((r) => r.of('alert:emergency').length >= 1);
      await settle(late2.socket);
      expect(late2.recorder.of('alert:emergency').map((e) => e.alert.id)).toEqual([
        second.body.alert.id,
      ]);
    });

    it('health and medication reminders: default roles, explicit users, acknowledgement by recipients only', async () => {
      const nurse = await connectReady(srv.url, who('h-nurse', 'nurse', 'aH'), ALERT_EVENTS);
      const admin = await connectReady(srv.url, who('h-admin', 'admin', 'aH'), ALERT_EVENTS);
      const staff = await connectReady(srv.url, who('h-staff', 'staff', 'aH'), ALERT_EVENTS);
      const foreignNurse = await connectReady(
        srv.url,
        who('h-fnurse', 'nurse', 'aX'),
        ALERT_EVENTS,
      );
      const twin = await connectReady(srv.url, who('h-staff', 'staff', 'aX'), ALERT_EVENTS);
      open.push(nurse.socket, admin.socket, staff.socket, foreignNurse.socket, twin.socket);
      const adminToken = await signToken({
        userId: 'h-admin',
        organizationId: 'aH',
        role: 'admin',
      });

      const health = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/health', {
        token: adminToken,
        body: {
          organizationId: 'aH',
          studentId: 'stu-1',
          title: MARKER,
          message: MARKER,
          severity: 'warning',
        },
      });
      expect(health.status).toBe(202);
      // A targeted alert's recipient rows commit with it (acknowledging needs the row): they are
      // there the moment the 202 is, before any delivery record.
      expect(
        await srv.database.prepared<{ n: number }>(
          'test_alert_targets',
          'SELECT count(*)::int AS n FROM alert_recipients WHERE alert_id = $1 AND targeted = 1',
          [health.body.alert.id],
        ),
      ).toEqual([{ n: 2 }]);
      expect(health.body.alert).toMatchObject({
        kind: 'health',
        studentId: 'stu-1',
        severity: 'warning',
      });
      for (const c of [nurse, admin])
        await c.recorder.until((r) => r.of('alert:health').length === 1);
      expect(nurse.recorder.of('alert:health')[0]).toEqual({ alert: health.body.alert });
      for (const c of [staff, foreignNurse]) await settle(c.socket);
      expect(staff.recorder.of('alert:health')).toEqual([]);
      expect(foreignNurse.recorder.of('alert:health')).toEqual([]);
      expect((await status(health.body.alert.id)).recipients).toEqual({
        targeted: 2,
        delivered: 2,
        acknowledged: 0,
      });

      const notMine = await request(staff.socket, 'alert:acknowledge', {
        alertId: health.body.alert.id,
      });
      expect(notMine.ok ? null : notMine.error.type).toBe('AUTHORIZATION_FAILED');
      await ok(admin.socket, 'alert:acknowledge', { alertId: health.body.alert.id });
      expect((await status(health.body.alert.id)).recipients).toEqual({
        targeted: 2,
        delivered: 2,
        acknowledged: 1,
      });

      const dueAt = new Date(Date.now() + 3600_000).toISOString();
      const med = await http<{ alert: Alert }>(
        srv.url,
        'POST',
        '/api/v1/alerts/medication-reminder',
        {
          token: service,
          body: { organizationId: 'aH', studentId: 'stu-2', title: 'Meds', message: 'Take', dueAt },
        },
      );
      expect(med.status).toBe(202);
      expect(med.body.alert).toMatchObject({
        kind: 'medication-reminder',
        severity: 'info',
        dueAt,
      });
      await nurse.recorder.until((r) => r.of('alert:medication-reminder').length === 1);
      for (const c of [admin, staff]) await settle(c.socket);
      expect(admin.recorder.of('alert:medication-reminder')).toEqual([]);
      expect(staff.recorder.of('alert:medication-reminder')).toEqual([]);

      const toStaff = await http<{ alert: Alert }>(
        srv.url,
        'POST',
        '/api/v1/alerts/medication-reminder',
        {
          token: service,
          body: {
            organizationId: 'aH',
            studentId: 'stu-2',
            title: 'Meds',
            message: 'Take',
            dueAt,
            userIds: ['h-staff'],
          },
        },
      );
      await staff.recorder.until((r) => r.of('alert:medication-reminder').length === 1);
      await settle(nurse.socket);
      await settle(twin.socket);
      expect(twin.recorder.events.map((e) => e.event)).toEqual(['notification:sync']);
      expect(nurse.recorder.of('alert:medication-reminder')).toHaveLength(1);
      expect((await status(toStaff.body.alert.id)).recipients).toEqual({
        targeted: 1,
        delivered: 1,
        acknowledged: 0,
      });

      // resolve goes to the recipients only
      const r = await http(srv.url, 'POST', `/api/v1/alerts/${health.body.alert.id}/resolve`, {
        token: adminToken,
      });
      expect(r.status).toBe(200);
      for (const c of [nurse, admin])
        await c.recorder.until((rec) => rec.of('alert:resolved').length === 1);
      await settle(staff.socket);
      expect(staff.recorder.of('alert:resolved')).toEqual([]);

      // an admin of another organization may not read or resolve it
      const otherAdmin = await signToken({
        userId: 'x-admin',
        organizationId: 'aX',
        role: 'admin',
      });
      expect(
        (
          await http(srv.url, 'GET', `/api/v1/alerts/${health.body.alert.id}`, {
            token: otherAdmin,
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await http(srv.url, 'POST', `/api/v1/alerts/${med.body.alert.id}/resolve`, {
            token: otherAdmin,
          })
        ).status,
      ).toBe(403);
      expect(
        (await http(srv.url, 'GET', '/api/v1/alerts/does-not-exist', { token: service })).status,
      ).toBe(404);
    });

    it('no alert text in any log line or audit row; the audit trail has every step', async () => {
      expect(srv.logs.join('\n')).not.toContain(MARKER);
      const audit = await auditText(srv.database.db as never);
      for (const action of [
        'alert.created',
        'alert.delivered',
        'alert.acknowledged',
        'alert.resolved',
      ])
        expect(audit).toContain(action);
      expect(audit).not.toContain(MARKER);
      // Batched delivery records (one unnest statement per batch) keep details as a JSON object.
      const delivered = await srv.database.prepared<{ mode: string; kind: string }>(
        'test_audit_delivered',
        `SELECT details->>'mode' AS mode, jsonb_typeof(details) AS kind
           FROM audit_log WHERE action = 'alert.delivered' ORDER BY id LIMIT 1`,
        [],
      );
      expect(delivered).toEqual([{ mode: 'initial', kind: 'object' }]);
      const metrics = await http<string>(srv.url, 'GET', '/metrics');
      expect(metrics.body).toMatch(
        /realtime_alert_deliveries_total\{kind="emergency",mode="initial"\} \d+/,
      );
      expect(metrics.body).toMatch(/realtime_alert_acknowledgements_total\{kind="emergency"\} 1/);
    });
  });

  describe(`alert re-delivery (${label})`, () => {
    const srv = useServer({ env: { ALERT_RESEND_INTERVAL_MS: '300' } }, { postgres });
    const open: TestSocket[] = [];
    afterAll(async () => {
      closeAll(...open);
    });

    it('an unacknowledged recipient gets it again until acknowledged or resolved; an acknowledged one does not', async () => {
      const service = await signToken({ userId: 'svc', organizationId: 'rA', role: 'service' });
      const acker = await connectReady(
        srv.url,
        { userId: 'r-acker', organizationId: 'rA' },
        ALERT_EVENTS,
      );
      const idle = await connectReady(
        srv.url,
        { userId: 'r-idle', organizationId: 'rA' },
        ALERT_EVENTS,
      );
      open.push(acker.socket, idle.socket);
      const res = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: { organizationId: 'rA', title: 'Fire drill', message: 'Leave the building' },
      });
      const id = res.body.alert.id;
      await acker.recorder.until((r) => r.of('alert:emergency').length === 1);
      await ok(acker.socket, 'alert:acknowledge', { alertId: id });
      const ackedAt = acker.recorder.of('alert:emergency').length;

      await idle.recorder.until(
        (r) => r.of('alert:emergency').filter((e) => e.redelivered).length >= 3,
        8000,
        'three re-sends',
      );
      const resent = idle.recorder.of('alert:emergency').filter((e) => e.redelivered);
      expect(resent[0]).toEqual({ alert: res.body.alert, redelivered: true });
      await settle(acker.socket);
      expect(acker.recorder.of('alert:emergency')).toHaveLength(ackedAt);

      // A reconnecting recipient gets the replayed copy first, never a re-send racing the replay.
      for (let i = 0; i < 5; i++) {
        const again = await connectReady(
          srv.url,
          { userId: 'r-idle', organizationId: 'rA' },
          ALERT_EVENTS,
        );
        await again.recorder.until((r) => r.of('alert:emergency').length >= 1);
        expect(again.recorder.of('alert:emergency')[0]).toEqual({
          alert: res.body.alert,
          replayed: true,
        });
        again.socket.close();
      }

      const st = await http<Status>(srv.url, 'GET', `/api/v1/alerts/${id}`, { token: service });
      expect(st.body.recipients).toEqual({ targeted: 2, delivered: 2, acknowledged: 1 });

      // resolved: the re-sends stop. A second alert's re-send proves a whole interval went by.
      const resolved = await http(srv.url, 'POST', `/api/v1/alerts/${id}/resolve`, {
        token: service,
      });
      expect(resolved.status).toBe(200);
      await idle.recorder.until((r) => r.of('alert:resolved').length === 1, 5000, 'alert:resolved');
      const before = idle.recorder.of('alert:emergency').filter((e) => e.alert.id === id).length;
      const other = await http<{ alert: Alert }>(srv.url, 'POST', '/api/v1/alerts/emergency', {
        token: service,
        body: { organizationId: 'rA', title: 'Second', message: 'x' },
      });
      await idle.recorder.until(
        (r) =>
          r.of('alert:emergency').some((e) => e.alert.id === other.body.alert.id && e.redelivered),
        8000,
      );
      expect(idle.recorder.of('alert:emergency').filter((e) => e.alert.id === id).length).toBe(
        before,
      );
    });
  });
}

suite('PGlite');
describe.skipIf(!hasPostgres())('on PostgreSQL', () => {
  suite('PostgreSQL', 'alerts');
});
