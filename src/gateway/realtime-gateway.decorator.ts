import { applyDecorators, UseFilters, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import type { NamespaceName } from '../protocol/constants.js';
import { WsThrottleGuard } from '../rate-limit/ws-throttle.guard.js';
import { EventInterceptor } from './event.interceptor.js';
import { WsExceptionsFilter } from './ws-exceptions.filter.js';
import { WsValidationPipe } from './ws-validation.pipe.js';

/**
 * A gateway class on one namespace with the contract's pipeline bound on the class (global
 * pipes, guards and filters do not apply to gateways): throttle → validate → handler → ack.
 * Server options (path, CORS, limits) come from RealtimeIoAdapter, not from here.
 */
export const RealtimeGateway = (namespace: NamespaceName): ClassDecorator =>
  applyDecorators(
    WebSocketGateway(namespace === '/' ? {} : { namespace }),
    UseFilters(WsExceptionsFilter),
    UseGuards(WsThrottleGuard),
    UseInterceptors(EventInterceptor),
    UsePipes(WsValidationPipe),
  );
