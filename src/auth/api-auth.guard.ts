import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { AppError } from '../protocol/errors.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { ApiRequest } from './api-principal.js';
import { CredentialChecks } from './credential-checks.js';
import { stripBearer, TokenVerifier } from './token-verifier.service.js';

export { assertOrganizationAccess, Principal, type ApiPrincipal } from './api-principal.js';

/**
 * The one guard of the HTTP API (§9, §11): a Bearer token checked by the same verifier as the
 * handshake (and the same credential checks: revocation). Missing or invalid → 401; valid but neither
 * `service` nor `admin` → 403. Organization rights are checked by the services with
 * `assertOrganizationAccess`, once they know which organization the request is about.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly checks: CredentialChecks,
    private readonly limits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ApiRequest>();
    const header = req.headers.authorization;
    const token =
      typeof header === 'string' && /^Bearer\s+/i.test(header) ? stripBearer(header) : undefined;
    let user: Awaited<ReturnType<TokenVerifier['verify']>>;
    try {
      user = await this.verifier.verify(token);
      await this.checks.assert(user);
    } catch (err) {
      // §12.3 `http:auth-failure`: refused requests spend their address's bucket; once it is
      // empty they answer 429 instead of 401 (valid tokens from that address still pass).
      if (err instanceof AppError && err.type === 'AUTHENTICATION_FAILED') {
        const d = await this.limits.consumeHttpAuthFailure(clientAddress(req));
        if (!d.allowed) throw AppError.rateLimited(d.retryAfterMs);
      }
      throw err;
    }
    // §12.3 `http:api`: per principal, also for requests refused with 403 below.
    const d = await this.limits.consumeHttpApi(user.organizationId, user.userId);
    if (!d.allowed) throw AppError.rateLimited(d.retryAfterMs);
    if (user.role !== 'admin' && user.role !== 'service')
      throw AppError.forbidden('This API needs a service or admin token');
    req.principal = { userId: user.userId, organizationId: user.organizationId, role: user.role };
    return true;
  }
}

/** The client's address: the socket's (X-Forwarded-For is trusted only through TRUST_PROXY). */
function clientAddress(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}
