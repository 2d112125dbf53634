import { describe, expect, it } from 'vitest';
import { AlertRecipientsRepository } from '../src/alerts/alert-recipients.repository.js';
import { AlertsRepository } from '../src/alerts/alerts.repository.js';
import { AlertEscalationsRepository } from '../src/alerts/escalation/alert-escalations.repository.js';
import { MembersRepository } from '../src/members/members.repository.js';
import { NotificationsRepository } from '../src/notifications/notifications.repository.js';
import { openPostgres, type DatabaseHandle } from '../src/persistence/database.js';
import { DatabaseErrors } from '../src/persistence/database-errors.js';
import { AppError } from '../src/protocol/errors.js';
import { RevocationsRepository } from '../src/revocation/revocations.repository.js';
import { freshPglite } from './support/server.js';
import { createTestDatabase, hasPostgres } from './support/services.js';

/**
 * Issue 13 item 5: repositories map database errors to AppError themselves (DatabaseErrors.run),
 * so a service never sees a driver's error — whose message quotes the statement and its
 * parameters. Every repository method that runs outside a transaction is called against a
 * database that is gone; each must reject with SERVICE_UNAVAILABLE "Storage unavailable" and
 * nothing of the statement. On PostgreSQL a value the database refuses (a NUL byte) must come
 * back as VALIDATION_ERROR `storable`, not as the driver's error.
 */
function repositories(db: DatabaseHandle) {
  const errors = new DatabaseErrors();
  return {
    alerts: new AlertsRepository(db, errors),
    recipients: new AlertRecipientsRepository(db, errors),
    escalations: new AlertEscalationsRepository(db, errors),
    members: new MembersRepository(db, errors),
    notifications: new NotificationsRepository(db, errors),
    revocations: new RevocationsRepository(db, errors),
  };
}

type Repos = ReturnType<typeof repositories>;
const user = { organizationId: 'org-x', userId: 'user-x' };
const calls: Array<[string, (r: Repos) => Promise<unknown>]> = [
  ['alerts.find', (r) => r.alerts.find('a')],
  ['alerts.findMany', (r) => r.alerts.findMany(['a'])],
  ['alerts.resolve', (r) => r.alerts.resolve('a', new Date())],
  ['alerts.activeEmergencies', (r) => r.alerts.activeEmergenciesUnacknowledgedBy('o', 'u')],
  ['alerts.organizationsWithActive', (r) => r.alerts.organizationsWithActiveEmergency()],
  ['alerts.isActive', (r) => r.alerts.isActive('a')],
  ['recipients.insertMembers', (r) => r.recipients.insertMembersAsTargets('a', 'o')],
  ['recipients.markSent', (r) => r.recipients.markSent([{ alertId: 'a', userId: 'u' }])],
  ['recipients.markReplayed', (r) => r.recipients.markReplayed([{ alertId: 'a', userId: 'u' }])],
  ['recipients.claimDue', (r) => r.recipients.claimDue('o', ['u'], 1000)],
  ['recipients.acknowledge', (r) => r.recipients.acknowledge('a', 'u')],
  ['recipients.insertAcknowledged', (r) => r.recipients.insertAcknowledged('a', 'u')],
  ['recipients.userIds', (r) => r.recipients.userIds('a')],
  ['recipients.counts', (r) => r.recipients.counts({ id: 'a', targeted: null })],
  ['escalations.claim', (r) => r.escalations.claim('node', 1000, 5)],
  ['escalations.sweep', (r) => r.escalations.sweep()],
  ['escalations.stop', (r) => r.escalations.stop('a', 'resolved')],
  ['escalations.status', (r) => r.escalations.status('a')],
  ['members.upsert', (r) => r.members.upsert('o', 'u', 'staff')],
  ['members.count', (r) => r.members.count('o')],
  ['members.userIdsWithRoles', (r) => r.members.userIdsWithRoles('o', ['nurse'])],
  ['members.userIdsWithRolesAmong', (r) => r.members.userIdsWithRolesAmong('o', ['nurse'], ['u'])],
  ['members.isMember', (r) => r.members.isMember('o', 'u')],
  ['notifications.markRead', (r) => r.notifications.markRead('n', 'o', 'u')],
  ['notifications.unread', (r) => r.notifications.unread('o', 'u', 10)],
  ['revocations.revoke', (r) => r.revocations.revoke(user)],
  ['revocations.since', (r) => r.revocations.since(undefined)],
];

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const drivers = [
  { name: 'PGlite', open: async () => ({ db: await freshPglite(), drop: async () => {} }) },
  ...(hasPostgres()
    ? [
        {
          name: 'PostgreSQL',
          open: async () => {
            const t = await createTestDatabase('repoerr');
            return { db: await openPostgres(t.url), drop: t.drop };
          },
        },
      ]
    : []),
];

describe.each(drivers)('repositories on $name answer AppErrors only', ({ name, open }) => {
  it('a database that is gone: every method rejects with SERVICE_UNAVAILABLE, no statement text', async () => {
    const { db, drop } = await open();
    const repos = repositories(db);
    await db.close();
    try {
      for (const [what, call] of calls) {
        const err = await failure(call(repos));
        expect(err, what).toBeInstanceOf(AppError);
        expect((err as AppError).type, what).toBe('SERVICE_UNAVAILABLE');
        expect((err as AppError).message, what).toBe('Storage unavailable');
        // Its fields (what an error answer or a log line could carry) and no driver error inside.
        expect(JSON.stringify(err), what).not.toMatch(/select|insert|update|from |\$1/i);
        expect((err as Error).cause, what).toBeUndefined();
      }
    } finally {
      await drop();
    }
  }, 30_000);

  it.skipIf(name !== 'PostgreSQL')(
    'a value PostgreSQL refuses (a NUL byte) is VALIDATION_ERROR storable',
    async () => {
      const { db, drop } = await open();
      try {
        const err = await failure(repositories(db).members.isMember('o', 'bad\u0000id'));
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).type).toBe('VALIDATION_ERROR');
        expect(JSON.stringify(err)).toContain('storable');
        expect(JSON.stringify(err)).not.toContain('bad');
      } finally {
        await db.close();
        await drop();
      }
    },
  );
});
