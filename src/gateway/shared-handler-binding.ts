import { WebSocketsController } from '@nestjs/websockets/web-sockets-controller.js';
import type { Socket } from 'socket.io';

/** One `@SubscribeMessage` handler as Nest prepared it: the full pipeline, not yet bound to a socket. */
export interface GatewaySubscriber {
  message: unknown;
  callback: (...args: unknown[]) => unknown;
  isAckHandledManually?: boolean;
}

/** An adapter that serves a gateway's handlers from shared tables instead of per-socket listeners. */
export interface SharedHandlerAdapter {
  bindSharedHandlers(client: Socket, instance: object, subscribers: GatewaySubscriber[]): void;
}

type SubscribeMessages = (
  this: { config: { getIoAdapter(): unknown } },
  subscribers: GatewaySubscriber[],
  client: Socket,
  instance: object,
) => void;

const PATCHED = Symbol.for('white-cross.shared-handler-binding');

function isSharedHandlerAdapter(a: unknown): a is SharedHandlerAdapter {
  return typeof (a as Partial<SharedHandlerAdapter> | undefined)?.bindSharedHandlers === 'function';
}

/**
 * Nest binds every `@SubscribeMessage` handler to every socket: `subscribeMessages` makes one
 * bound callback per handler per connection and hands them to the adapter, which must then keep
 * them per socket. With some twenty handlers that was about 4 KiB of every idle connection (a
 * third of bare Socket.IO's whole cost per socket). This routes the step to the adapter with the
 * handlers still unbound — the same pipeline callbacks (guards, pipes, interceptors, filters) —
 * so it can keep one table per namespace and call them with the socket. Adapters without
 * `bindSharedHandlers` get Nest's own behaviour. Fails at start-up if Nest's internals moved.
 */
export function installSharedHandlerBinding(): void {
  const proto = WebSocketsController.prototype as unknown as Record<PropertyKey, unknown> & {
    subscribeMessages: SubscribeMessages;
  };
  if (proto[PATCHED]) return;
  const original = proto.subscribeMessages;
  if (typeof original !== 'function')
    throw new Error('@nestjs/websockets changed: WebSocketsController.subscribeMessages missing');
  proto.subscribeMessages = function (subscribers, client, instance) {
    const adapter = this.config.getIoAdapter();
    if (isSharedHandlerAdapter(adapter)) adapter.bindSharedHandlers(client, instance, subscribers);
    else original.call(this, subscribers, client, instance);
  };
  proto[PATCHED] = true;
}
