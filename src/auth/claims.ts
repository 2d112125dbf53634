import type { JWTPayload } from 'jose';
import { ID_PATTERN, ROLES, type Role } from '../protocol/constants.js';
import type { AuthenticatedUser } from '../protocol/models.js';

function pickId(...candidates: unknown[]): string | undefined {
  for (const c of candidates) {
    if (typeof c === 'string' && c.length > 0) return c;
    if (typeof c === 'number' && Number.isSafeInteger(c) && c >= 0) return String(c);
  }
  return undefined;
}

/**
 * §3 claims mapping: userId ← sub | userId | id; organizationId ← organizationId | orgId |
 * tenantId; role ← role | roles[0] (default staff). Returns undefined when the claims do not
 * describe a valid user (the caller answers "invalid" without saying why).
 */
export function mapClaims(payload: JWTPayload): AuthenticatedUser | undefined {
  const p = payload as Record<string, unknown>;
  const userId = pickId(p.sub, p.userId, p.id);
  const organizationId = pickId(p.organizationId, p.orgId, p.tenantId);
  if (!userId || !organizationId || !ID_PATTERN.test(userId) || !ID_PATTERN.test(organizationId))
    return undefined;
  let role: unknown = p.role;
  if (role === undefined && Array.isArray(p.roles)) role = p.roles[0];
  if (role === undefined || role === null) role = 'staff';
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return undefined;
  if (typeof payload.exp !== 'number') return undefined;
  return {
    userId,
    organizationId,
    role: role as Role,
    exp: payload.exp,
    ...(typeof payload.iat === 'number' ? { iat: payload.iat } : {}),
  };
}
