import { SetMetadata } from '@nestjs/common';

export const THROTTLE_METADATA = 'realtime:throttle';

export interface ThrottleOptions {
  /** Bucket size for an event that has no row of its own in RATE_LIMITS. */
  maxTokens?: number;
  refillIntervalMs?: number;
  /** Over the limit, answer `{ok: true, data: {}}` and do nothing (message:typing). */
  silent?: boolean;
  /** Do not rate-limit this handler at all. */
  skip?: boolean;
}

/**
 * Rate-limit options of a handler. The bucket comes from RATE_LIMITS for the five events of §7,
 * from these numbers for other events that set them, else from RATE_LIMITS.default.
 */
export const Throttle = (options: ThrottleOptions): MethodDecorator =>
  SetMetadata(THROTTLE_METADATA, options);
