import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { AppError } from '../protocol/errors.js';

/** Who called the HTTP API: a `service` (any organization) or an `admin` (its own only). */
export interface ApiPrincipal {
  userId: string;
  organizationId: string;
  role: 'admin' | 'service';
}

export type ApiRequest = Request & { principal?: ApiPrincipal };

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
