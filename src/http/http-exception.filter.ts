import {
  Catch,
  HttpException,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { errorFields, isDatabaseError } from '../observability/error-fields.js';
import { databaseAnswer } from '../persistence/sqlstate.js';
import { AppError, HTTP_STATUS, toErrorObject, type ErrorType } from '../protocol/errors.js';

const STATUS_TYPES: Record<number, ErrorType> = {
  400: 'BAD_REQUEST',
  401: 'AUTHENTICATION_FAILED',
  403: 'AUTHORIZATION_FAILED',
  404: 'RESOURCE_NOT_FOUND',
  409: 'CONFLICT',
  413: 'BAD_REQUEST',
  429: 'RATE_LIMIT_EXCEEDED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Every HTTP error body is the §8 error object at the top level; no echo of the request. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger('http') private readonly logger: PinoLogger,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request & { id?: string }>();
    const requestId =
      typeof req.id === 'string' || typeof req.id === 'number' ? String(req.id) : undefined;
    let status: number;
    let err: unknown = exception;
    if (exception instanceof AppError) {
      status = HTTP_STATUS[exception.type];
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const type = STATUS_TYPES[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
      const text =
        status === 404
          ? 'Route not found'
          : status === 413
            ? 'Request body too large'
            : exception.message;
      err = new AppError(type, text);
    } else if (isDatabaseError(exception)) {
      // A database refusal (400 storable) or a lost connection (503), logged by class, SQLSTATE and constraint
      // only — drizzle's message carries the query's parameters (§12.3).
      const answer = databaseAnswer(exception);
      status = HTTP_STATUS[answer.type];
      err = answer;
      this.logger.error(errorFields(exception), 'request failed');
    } else {
      status = 500;
      this.logger.error(errorFields(exception), 'request failed');
    }
    const body = toErrorObject(err, {
      ...(requestId ? { requestId } : {}),
      production: this.config.isProduction,
    });
    if (res.headersSent) return;
    // 429: Retry-After in whole seconds, rounded up (§12.3); details.retryAfterMs is exact.
    const retryAfterMs = (body.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    if (status === 429 && typeof retryAfterMs === 'number')
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    res.status(status).json(body);
  }
}
