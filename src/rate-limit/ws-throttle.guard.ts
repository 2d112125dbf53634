import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppError } from '../protocol/errors.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { SilentDrop } from '../gateway/silent-drop.js';
import { RateLimitService } from './rate-limit.service.js';
import { THROTTLE_METADATA, type ThrottleOptions } from './throttle.decorator.js';

/**
 * Runs before validation (guards precede pipes), so invalid payloads spend tokens too (§11).
 * Over the limit: RATE_LIMIT_EXCEEDED with details.retryAfterMs, or a silent drop.
 */
@Injectable()
export class WsThrottleGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const options =
      this.reflector.get<ThrottleOptions | undefined>(THROTTLE_METADATA, context.getHandler()) ??
      {};
    if (options.skip) return true;
    const ws = context.switchToWs();
    const socket = ws.getClient<AppSocket>();
    const event = ws.getPattern();
    const override =
      options.maxTokens && options.refillIntervalMs
        ? { maxTokens: options.maxTokens, refillIntervalMs: options.refillIntervalMs }
        : undefined;
    const decision = await this.limits.consumeEvent(socket.data.user, event, override);
    if (decision.allowed) return true;
    if (options.silent) throw new SilentDrop();
    throw AppError.rateLimited(decision.retryAfterMs);
  }
}
