import { AppError } from '../../protocol/errors.js';

/**
 * Why a handshake was refused, as one word for the log line (docs/operations.md):
 * - `missing` / `invalid` / `expired` / `revoked`: the token (AUTHENTICATION_FAILED)
 * - `origin`: the browser Origin is not allowed (refused by the transport, before any namespace)
 * - `limit`: a handshake rate limit or the per-user connection cap (RATE_LIMIT_EXCEEDED)
 * - `forbidden`: a handshake check refused the user (AUTHORIZATION_FAILED)
 * - `unavailable`: the node is draining or a dependency failed (SERVICE_UNAVAILABLE)
 */
export type RefusalCategory =
  | 'missing'
  | 'invalid'
  | 'expired'
  | 'revoked'
  | 'origin'
  | 'limit'
  | 'forbidden'
  | 'unavailable'
  | 'other';

const AUTH_REASONS = (['missing', 'invalid', 'expired', 'revoked'] as const).map(
  (reason) => [AppError.authentication(reason).message, reason] as const,
);

export function refusalCategory(err: AppError): RefusalCategory {
  switch (err.type) {
    case 'AUTHENTICATION_FAILED':
      return AUTH_REASONS.find(([text]) => text === err.message)?.[1] ?? 'invalid';
    case 'RATE_LIMIT_EXCEEDED':
      return 'limit';
    case 'AUTHORIZATION_FAILED':
      return 'forbidden';
    case 'SERVICE_UNAVAILABLE':
      return 'unavailable';
    case 'BAD_REQUEST':
    case 'CONFLICT':
    case 'INTERNAL_ERROR':
    case 'RESOURCE_NOT_FOUND':
    case 'VALIDATION_ERROR':
      return 'other';
  }
}

export interface RefusalLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/**
 * The one log line of a refused handshake: category, client address and namespace (absent for
 * `origin`, refused before the client names one). Never the token, nor any handshake field:
 * callers pass only these three values.
 */
export function logRefusedHandshake(
  logger: RefusalLogger,
  category: RefusalCategory,
  address: string | undefined,
  namespace?: string,
): void {
  logger.warn(
    {
      reason: category,
      address: address ?? 'unknown',
      ...(namespace !== undefined ? { namespace } : {}),
    },
    `handshake refused: ${category}`,
  );
}
