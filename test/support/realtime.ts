import { connect } from './client.js';
import type { ServerEventName } from '../../src/protocol/events.js';
import { signToken } from './tokens.js';

/**
 * Connects to `/` and waits until the connect hooks up to the notification sync (order 30) ran:
 * the user is then a recorded member and counted in presence.
 */
export async function connectReady(
  url: string,
  user: { userId: string; organizationId: string; role?: string },
  record: ServerEventName[] = [],
) {
  const token = await signToken({
    userId: user.userId,
    organizationId: user.organizationId,
    role: user.role ?? 'staff',
  });
  const c = await connect(url, token, {
    record: [...new Set<ServerEventName>([...record, 'notification:sync'])],
  });
  await c.recorder.until((r) => r.of('notification:sync').length > 0, 5000, 'notification:sync');
  return { ...c, token };
}

/** Audit rows as JSON text, to check that no text ends up in them. */
export async function auditText(db: {
  execute: (q: unknown) => Promise<unknown>;
}): Promise<string> {
  const { sql } = await import('drizzle-orm');
  const res = (await db.execute(sql`SELECT * FROM audit_log`)) as { rows: unknown[] };
  return JSON.stringify(res.rows);
}
