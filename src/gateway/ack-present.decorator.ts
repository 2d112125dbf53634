import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** True when the client passed an ack callback with the event. */
export const AckPresent = createParamDecorator((_data: unknown, ctx: ExecutionContext): boolean =>
  ctx
    .getArgs<unknown[]>()
    .slice(1, -1)
    .some((a) => typeof a === 'function'),
);
