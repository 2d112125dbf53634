import type {
  ErrorObject,
  ErrorType,
  ValidationDetail,
} from '@white-cross/realtime-client/protocol/errors';

/** §8 error types and the wire error object: defined once in the SDK package. */
export {
  ERROR_TYPES,
  type ErrorObject,
  type ErrorType,
  type ValidationDetail,
} from '@white-cross/realtime-client/protocol/errors';

/** HTTP status for each error type (the HTTP API answers with the same object at the top level). */
export const HTTP_STATUS: Record<ErrorType, number> = {
  AUTHENTICATION_FAILED: 401,
  AUTHORIZATION_FAILED: 403,
  VALIDATION_ERROR: 400,
  RATE_LIMIT_EXCEEDED: 429,
  RESOURCE_NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL_ERROR: 500,
  BAD_REQUEST: 400,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * The one error class services throw. Its message is written by us, never built from
 * client input (no message content, alert text or token may end up in it).
 */
export class AppError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static validation(details: ValidationDetail[], message = 'Payload validation failed'): AppError {
    return new AppError('VALIDATION_ERROR', message, details);
  }
  static notFound(what: string): AppError {
    return new AppError('RESOURCE_NOT_FOUND', `${what} not found`);
  }
  static forbidden(message = 'Not allowed'): AppError {
    return new AppError('AUTHORIZATION_FAILED', message);
  }
  static conflict(message: string): AppError {
    return new AppError('CONFLICT', message);
  }
  static badRequest(message: string): AppError {
    return new AppError('BAD_REQUEST', message);
  }
  static unavailable(message = 'Service temporarily unavailable'): AppError {
    return new AppError('SERVICE_UNAVAILABLE', message);
  }
  static rateLimited(retryAfterMs: number): AppError {
    return new AppError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded', {
      retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)),
    });
  }
  static authentication(reason: 'missing' | 'invalid' | 'expired' | 'revoked'): AppError {
    const text = {
      missing: 'Authentication token missing',
      invalid: 'Authentication token invalid',
      expired: 'Authentication token expired',
      revoked: 'Session revoked',
    }[reason];
    return new AppError('AUTHENTICATION_FAILED', text);
  }
}

export interface ErrorContext {
  event?: string;
  requestId?: string;
  production?: boolean;
}

/** Maps anything thrown to the wire error object. Unknown errors become a generic INTERNAL_ERROR. */
export function toErrorObject(err: unknown, ctx: ErrorContext = {}): ErrorObject {
  const base = { timestamp: new Date().toISOString() } as const;
  const extra: Partial<ErrorObject> = {};
  if (ctx.requestId) extra.requestId = ctx.requestId;
  if (ctx.event) extra.event = ctx.event;
  if (err instanceof AppError) {
    const out: ErrorObject = { type: err.type, message: err.message, ...base, ...extra };
    if (err.details !== undefined) out.details = err.details;
    return out;
  }
  // Never echo an unknown error's message: it may carry driver text with values in it.
  return { type: 'INTERNAL_ERROR', message: 'Internal server error', ...base, ...extra };
}
