import type { ErrorObject, ErrorType } from './protocol/errors.js';

/**
 * Error types the client adds to §8's: the ack did not come in time, or the client was closed
 * (or the session ended) before it could.
 */
export type ClientErrorType = ErrorType | 'ACK_TIMEOUT' | 'CLIENT_CLOSED';

/** A failed ack, `auth:expired`, `connect_error` or client-side failure, keeping §8's fields. */
export class RealtimeError extends Error {
  readonly type: ClientErrorType;
  readonly details?: unknown;
  readonly event?: string;
  readonly requestId?: string;
  readonly timestamp: string;

  constructor(
    error:
      | ErrorObject
      | {
          type: ClientErrorType;
          message: string;
          timestamp?: string;
          event?: string;
          details?: unknown;
          requestId?: string;
        },
  ) {
    super(error.message);
    this.name = 'RealtimeError';
    this.type = error.type;
    this.timestamp = error.timestamp ?? new Date().toISOString();
    if (error.details !== undefined) this.details = error.details;
    if (error.event !== undefined) this.event = error.event;
    if (error.requestId !== undefined) this.requestId = error.requestId;
  }

  /** `details.retryAfterMs` of a RATE_LIMIT_EXCEEDED error, when present. */
  get retryAfterMs(): number | undefined {
    const d = this.details as { retryAfterMs?: unknown } | undefined;
    return typeof d?.retryAfterMs === 'number' ? d.retryAfterMs : undefined;
  }

  /** The §8 error object again (for logging ids/types, or handing to UI code). */
  toJSON(): {
    type: ClientErrorType;
    message: string;
    timestamp: string;
    event?: string;
    details?: unknown;
    requestId?: string;
  } {
    return {
      type: this.type,
      message: this.message,
      timestamp: this.timestamp,
      ...(this.event !== undefined ? { event: this.event } : {}),
      ...(this.requestId !== undefined ? { requestId: this.requestId } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

export function isErrorObject(v: unknown): v is ErrorObject {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ErrorObject).type === 'string' &&
    typeof (v as ErrorObject).message === 'string'
  );
}
