/** §8 error types and the wire error object (the server's AppError maps onto these). */
export const ERROR_TYPES = [
  'AUTHENTICATION_FAILED',
  'AUTHORIZATION_FAILED',
  'VALIDATION_ERROR',
  'RATE_LIMIT_EXCEEDED',
  'RESOURCE_NOT_FOUND',
  'CONFLICT',
  'INTERNAL_ERROR',
  'BAD_REQUEST',
  'SERVICE_UNAVAILABLE',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export interface ValidationDetail {
  field: string;
  constraints: string[];
}

/** The error object of §8: in acks, `error` events, `connect_error.data`, `auth:expired` and HTTP bodies. */
export interface ErrorObject {
  type: ErrorType;
  message: string;
  timestamp: string;
  requestId?: string;
  event?: string;
  details?: unknown;
}
