import { describe, expectTypeOf, it } from 'vitest';
import type { Conversation, Message, PresenceEntry } from './protocol/models.js';
import type { ErrorObject } from './protocol/errors.js';
import { RealtimeClient, RealtimeError, type EmitArgs, type ListenerMap } from './index.js';

// Type-level only: these assertions are checked by the compiler (vitest typechecks expectTypeOf
// calls through tsc in `npm run typecheck`); the runtime bodies never open a socket.
type Emit = RealtimeClient['emit'];

describe('RealtimeClient typing', () => {
  it('emit resolves with the ack data of the event', () => {
    expectTypeOf<ReturnType<typeof _send>>().toEqualTypeOf<Promise<{ message: Message }>>();
    expectTypeOf<ReturnType<typeof _join>>().toEqualTypeOf<
      Promise<{
        conversation: Conversation;
        messages: Message[];
        hasMore: boolean;
        lastSeq: number;
      }>
    >();
    expectTypeOf<ReturnType<typeof _query>>().toEqualTypeOf<Promise<{ users: PresenceEntry[] }>>();
    expectTypeOf<ReturnType<typeof _ping>>().toEqualTypeOf<
      Promise<{ pong: true; serverTime: string }>
    >();
    expectTypeOf<ReturnType<typeof _typing>>().toEqualTypeOf<Promise<Record<string, never>>>();
  });

  it('emit takes no payload, an optional one, or a required one as the contract says', () => {
    expectTypeOf<EmitArgs<'ping'>>().toEqualTypeOf<[]>();
    expectTypeOf<EmitArgs<'presence:query'>>().toEqualTypeOf<[payload?: { userIds?: string[] }]>();
    expectTypeOf<EmitArgs<'conversation:list'>>().toEqualTypeOf<
      [payload?: { before?: string; limit?: number }]
    >();
    expectTypeOf<EmitArgs<'message:read'>>().toEqualTypeOf<
      [payload: { conversationId: string; messageId: string }]
    >();
    expectTypeOf<Parameters<Emit>[0]>().toEqualTypeOf<
      | 'ping'
      | 'subscribe'
      | 'unsubscribe'
      | 'conversation:create'
      | 'conversation:join'
      | 'conversation:history'
      | 'conversation:leave'
      | 'conversation:list'
      | 'message:send'
      | 'message:edit'
      | 'message:delete'
      | 'message:delivered'
      | 'message:read'
      | 'message:typing'
      | 'presence:update'
      | 'presence:query'
      | 'notification:read'
      | 'alert:acknowledge'
      | 'auth:refresh'
    >();
  });

  it('rejects wrong events and payloads at compile time', () => {
    const c = null as unknown as RealtimeClient;
    const never = () => {
      // @ts-expect-error unknown event
      void c.emit('message:shout', {});
      // @ts-expect-error missing required field
      void c.emit('message:send', { conversationId: 'c1', content: 'x' });
      // @ts-expect-error wrong type of a field
      void c.emit('message:typing', { conversationId: 'c1', isTyping: 'yes' });
      // @ts-expect-error ping takes no payload
      void c.emit('ping', {});
      // @ts-expect-error status outside the enum
      void c.emit('presence:update', { status: 'busy' });
      // @ts-expect-error a listener with the wrong payload
      c.on('message:new', (p: { alert: unknown }) => p);
    };
    void never;
  });

  it('on() listeners receive the server payload, and client: lifecycle events are typed', () => {
    expectTypeOf<Parameters<ListenerMap['message:new']>[0]>().toEqualTypeOf<{
      message: Message;
      replayed?: true;
    }>();
    expectTypeOf<Parameters<ListenerMap['message:typing']>[0]>().toEqualTypeOf<{
      conversationId: string;
      userId: string;
      isTyping: boolean;
    }>();
    expectTypeOf<Parameters<ListenerMap['auth:expired']>[0]>().toEqualTypeOf<ErrorObject>();
    expectTypeOf<Parameters<ListenerMap['client:error']>[0]>().toEqualTypeOf<RealtimeError>();
    expectTypeOf<Parameters<ListenerMap['client:state']>[0]>().toEqualTypeOf<
      'connecting' | 'connected' | 'reconnecting' | 'closed'
    >();
    expectTypeOf<RealtimeClient['on']>().returns.toEqualTypeOf<() => void>();
  });

  it('RealtimeError keeps the error object fields', () => {
    expectTypeOf<RealtimeError>().toExtend<Error>();
    expectTypeOf<RealtimeError['type']>().toExtend<string>();
    expectTypeOf<'VALIDATION_ERROR'>().toExtend<RealtimeError['type']>();
    expectTypeOf<'ACK_TIMEOUT'>().toExtend<RealtimeError['type']>();
    expectTypeOf<RealtimeError['details']>().toEqualTypeOf<unknown>();
  });
});

declare const client: RealtimeClient;
const _send = () =>
  client.emit('message:send', { messageId: 'id', conversationId: 'c', content: 'x' });
const _join = () => client.emit('conversation:join', { conversationId: 'c', afterSeq: 3 });
const _query = () => client.emit('presence:query');
const _ping = () => client.emit('ping');
const _typing = () => client.emit('message:typing', { conversationId: 'c', isTyping: true });
