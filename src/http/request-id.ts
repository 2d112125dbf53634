import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** The request id pino-http gave the request (for audit rows), if any. */
export const RequestId = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): string | undefined => {
    const id = ctx.switchToHttp().getRequest<{ id?: unknown }>().id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  },
);
