import { SignJWT, type JWTPayload } from 'jose';

export const TEST_JWT_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const key = new TextEncoder().encode(TEST_JWT_SECRET);

export interface TokenClaims {
  userId: string;
  organizationId: string;
  role?: string;
  /** Seconds from now; default 3600. */
  ttl?: number;
  iat?: number | null;
  extra?: JWTPayload;
  secret?: string;
}

/** Signs a real HS256 JWT the way the identity provider would. */
export function signToken(c: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    organizationId: c.organizationId,
    ...(c.role ? { role: c.role } : {}),
    ...c.extra,
  };
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(c.userId)
    .setExpirationTime(now + (c.ttl ?? 3600));
  if (c.iat !== null) jwt = jwt.setIssuedAt(c.iat ?? now);
  return jwt.sign(c.secret ? new TextEncoder().encode(c.secret) : key);
}
