import type { Role } from '../protocol/constants.js';
import type { Alert, AlertKind, Severity } from '../protocol/models.js';
import type { AlertRow } from './alerts.repository.js';

export type DeliveryMode = 'initial' | 'replayed' | 'redelivered';

export const DEFAULT_ROLES: Record<Exclude<AlertKind, 'emergency'>, Role[]> = {
  'medication-reminder': ['nurse'],
  health: ['nurse', 'admin'],
};

/** Who an alert goes to. */
export interface Audience {
  /** Rooms the alert is emitted to (one emit, each socket gets it once). */
  rooms: string[];
  /**
   * Recipients known now: explicit ids (and the members with the target roles), or every member
   * of the organization (an emergency: copied inside the database, never read out).
   */
  userIds: string[] | 'all-members';
  /** How many recipients are known now (the audit record's `targeted`). */
  count: number;
}

export function toAlert(row: AlertRow): Alert {
  const alert: Alert = {
    id: row.id,
    kind: row.kind as AlertKind,
    organizationId: row.organizationId,
    severity: row.severity as Severity,
    title: row.title,
    message: row.message,
    createdAt: new Date(row.createdAt).toISOString(),
  };
  if (row.studentId !== null) alert.studentId = row.studentId;
  if (row.location !== null) alert.location = row.location;
  if (row.dueAt !== null) alert.dueAt = new Date(row.dueAt).toISOString();
  if (row.expiresAt !== null) alert.expiresAt = new Date(row.expiresAt).toISOString();
  if (row.resolvedAt !== null) alert.resolvedAt = new Date(row.resolvedAt).toISOString();
  return alert;
}
