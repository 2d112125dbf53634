import {
  createParamDecorator,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request } from 'express';
import { stripBearer, TokenVerifier } from '../auth/token-verifier.service.js';
import { AppError } from '../protocol/errors.js';
import { RevocationService } from '../revocation/revocation.service.js';

/** Who called the HTTP API: a `service` (any organization) or an `admin` (its own only). */
export interface ApiPrincipal {
  userId: string;
  organizationId: string;
  role: 'admin' | 'service';
}

type ApiRequest = Request & { principal?: ApiPrincipal };

/**
 * The one guard of the HTTP API (§9, §11): a Bearer token checked by the same verifier as the
 * handshake (and the same revocation check). Missing or invalid → 401; valid but neither
 * `service` nor `admin` → 403. Organization rights are checked by the services with
 * `assertOrganizationAccess`, once they know which organization the request is about.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly revocations: RevocationService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ApiRequest>();
    const header = req.headers.authorization;
    const token =
      typeof header === 'string' && /^Bearer\s+/i.test(header) ? stripBearer(header) : undefined;
    const user = await this.verifier.verify(token);
    await this.revocations.check(user);
    if (user.role !== 'admin' && user.role !== 'service')
      throw AppError.forbidden('This API needs a service or admin token');
    req.principal = { userId: user.userId, organizationId: user.organizationId, role: user.role };
    return true;
  }
}

/** The caller set by ApiAuthGuard. */
export const Principal = createParamDecorator((_: unknown, ctx: ExecutionContext): ApiPrincipal => {
  const principal = ctx.switchToHttp().getRequest<ApiRequest>().principal;
  if (!principal) throw AppError.authentication('missing');
  return principal;
});

/** An admin acts on its own organization only; a service token on any (§9). */
export function assertOrganizationAccess(principal: ApiPrincipal, organizationId: string): void {
  if (principal.role === 'admin' && principal.organizationId !== organizationId) {
    throw AppError.forbidden('Admins may act on their own organization only');
  }
}
