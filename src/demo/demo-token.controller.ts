import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { SignJWT } from 'jose';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ID_PATTERN, ROLES, type Role } from '../protocol/constants.js';
import { AppError, type ValidationDetail } from '../protocol/errors.js';

export interface DemoTokenRequest {
  userId: string;
  organizationId: string;
  role: Role;
  /** Token lifetime in seconds, 10..86400 (default 3600). */
  ttlSeconds?: number;
}

const FIELDS = new Set(['userId', 'organizationId', 'role', 'ttlSeconds']);

/** Same rules as a WebSocket payload: whitelisted, typed, and no submitted value in the error. */
export function validateDemoTokenRequest(body: unknown): DemoTokenRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw AppError.validation([{ field: '$', constraints: ['isObject'] }]);
  }
  const b = body as Record<string, unknown>;
  const details: ValidationDetail[] = [];
  for (const key of Object.keys(b))
    if (!FIELDS.has(key)) details.push({ field: key, constraints: ['whitelistValidation'] });
  for (const key of ['userId', 'organizationId'] as const) {
    if (typeof b[key] !== 'string') details.push({ field: key, constraints: ['isString'] });
    else if (!ID_PATTERN.test(b[key])) details.push({ field: key, constraints: ['matches'] });
  }
  if (!(ROLES as readonly unknown[]).includes(b.role))
    details.push({ field: 'role', constraints: ['isIn'] });
  if (
    b.ttlSeconds !== undefined &&
    (typeof b.ttlSeconds !== 'number' ||
      !Number.isInteger(b.ttlSeconds) ||
      b.ttlSeconds < 10 ||
      b.ttlSeconds > 86400)
  ) {
    details.push({ field: 'ttlSeconds', constraints: ['isInt', 'min', 'max'] });
  }
  if (details.length > 0) throw AppError.validation(details);
  return b as unknown as DemoTokenRequest;
}

/**
 * Development only (the module is not even imported when NODE_ENV=production or
 * DEMO_ENABLED=false): mints a token for any demo user with the server's own HS256 secret, so
 * the demo page can sign in without an identity provider.
 */
@Controller('demo')
export class DemoTokenController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger('demo') private readonly logger: PinoLogger,
  ) {}

  @Post('token')
  @HttpCode(200)
  async token(@Body() body: unknown): Promise<{ token: string; expiresAt: string }> {
    const req = validateDemoTokenRequest(body);
    const { jwt } = this.config;
    if (jwt.algorithm !== 'HS256' || !jwt.secret) {
      throw AppError.unavailable(
        'Demo tokens need the HS256 JWT_SECRET; this server verifies with a public key',
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (req.ttlSeconds ?? 3600);
    let builder = new SignJWT({ organizationId: req.organizationId, role: req.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(req.userId)
      .setIssuedAt(now)
      .setExpirationTime(exp);
    if (jwt.issuer) builder = builder.setIssuer(jwt.issuer);
    if (jwt.audience) builder = builder.setAudience(jwt.audience);
    const token = await builder.sign(jwt.secret);
    this.logger.info(
      { userId: req.userId, organizationId: req.organizationId, role: req.role },
      'demo token issued',
    );
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }
}
