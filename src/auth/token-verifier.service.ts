import { Inject, Injectable } from '@nestjs/common';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JWTVerifyGetKey,
  type CryptoKey,
} from 'jose';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { AppError } from '../protocol/errors.js';
import type { AuthenticatedUser } from '../protocol/models.js';
import { mapClaims } from './claims.js';

type Key = Uint8Array | CryptoKey | JWTVerifyGetKey;

/**
 * Verifies bearer tokens for the handshake, `auth:refresh` and the HTTP API with the algorithms
 * pinned by config (never `none`, never HS with a public key; a JWKS may mix RSA and EC keys). Errors say only missing / invalid /
 * expired.
 */
@Injectable()
export class TokenVerifier {
  private keyPromise?: Promise<Key>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  private key(): Promise<Key> {
    this.keyPromise ??= (async (): Promise<Key> => {
      const jwt = this.config.jwt;
      if (jwt.publicKeyPem) return importSPKI(jwt.publicKeyPem, jwt.algorithm);
      if (jwt.jwksUrl) return createRemoteJWKSet(new URL(jwt.jwksUrl));
      if (jwt.secret) return jwt.secret;
      throw new Error('No JWT key configured');
    })();
    return this.keyPromise;
  }

  async verify(token: string | undefined): Promise<AuthenticatedUser> {
    if (!token) throw AppError.authentication('missing');
    const jwt = this.config.jwt;
    const key = await this.key();
    let payload;
    try {
      const result = await jwtVerify(token, key as Uint8Array, {
        algorithms: jwt.algorithms,
        clockTolerance: jwt.clockToleranceSec,
        requiredClaims: ['exp'],
        ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
        ...(jwt.audience ? { audience: jwt.audience } : {}),
      });
      payload = result.payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw AppError.authentication('expired');
      throw AppError.authentication('invalid');
    }
    const nowSec = Date.now() / 1000;
    if (typeof payload.iat === 'number' && payload.iat > nowSec + jwt.clockToleranceSec) {
      throw AppError.authentication('invalid');
    }
    const user = mapClaims(payload);
    if (!user) throw AppError.authentication('invalid');
    return user;
  }
}

/** Strips an optional `Bearer ` prefix. */
export function stripBearer(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  const m = /^Bearer\s+(.+)$/i.exec(v);
  const token = m ? m[1].trim() : v;
  return token.length > 0 ? token : undefined;
}

/** The moment the live expiry timer fires: `exp` + tolerance (§11). */
export function expiryDeadlineMs(exp: number, toleranceSec: number): number {
  return (exp + toleranceSec) * 1000;
}
