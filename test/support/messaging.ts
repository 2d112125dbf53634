import { afterAll } from 'vitest';
import { useServer, type TestServer } from './server.js';
import { randomUUID } from 'node:crypto';
import type { ServerEventName } from '../../src/protocol/events.js';
import type { Conversation, Message } from '../../src/protocol/models.js';
import { closeAll, connect, ok, type Recorder, type TestSocket } from './client.js';
import { signToken } from './tokens.js';

/** RATE_LIMITS that let a suite send bursts (the limits themselves are tested elsewhere). */
export const GENEROUS_LIMITS = JSON.stringify({
  'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
  'message:send': { maxTokens: 100000, refillIntervalMs: 1 },
  'message:typing': { maxTokens: 100000, refillIntervalMs: 1 },
  'message:edit': { maxTokens: 100000, refillIntervalMs: 1 },
  'message:delete': { maxTokens: 100000, refillIntervalMs: 1 },
  'conversation:join': { maxTokens: 100000, refillIntervalMs: 1 },
  'conversation:create': { maxTokens: 100000, refillIntervalMs: 1 },
  default: { maxTokens: 100000, refillIntervalMs: 1 },
});

/** Every conversation and message event of §6. */
export const CHAT_EVENTS: ServerEventName[] = [
  'conversation:new',
  'conversation:sync-required',
  'message:new',
  'message:edited',
  'message:deleted',
  'message:delivered',
  'message:read',
  'message:typing',
];

export interface Client {
  socket: TestSocket;
  recorder: Recorder;
  userId: string;
}

/** Connects a user (own token) recording the chat events from before the handshake. */
export async function user(
  url: string,
  userId: string,
  organizationId: string,
  o: { role?: string; namespace?: '/' | '/communication'; record?: ServerEventName[] } = {},
): Promise<Client> {
  const token = await signToken({ userId, organizationId, role: o.role ?? 'staff' });
  const { socket, recorder } = await connect(url, token, {
    namespace: o.namespace,
    record: o.record ?? CHAT_EVENTS,
  });
  return { socket, recorder, userId };
}

export async function conversation(
  c: Client,
  participantIds: string[],
  title?: string,
): Promise<Conversation> {
  const { conversation: conv } = await ok(c.socket, 'conversation:create', {
    participantIds,
    ...(title ? { title } : {}),
  });
  return conv;
}

export async function send(
  c: Client,
  conversationId: string,
  content = `hello ${randomUUID()}`,
): Promise<Message> {
  const { message } = await ok(c.socket, 'message:send', {
    messageId: randomUUID(),
    conversationId,
    content,
  });
  return message;
}

/** Unique ids per test (defined in ids.ts; re-exported for the chat suites' imports). */
export { uid } from './ids.js';

/**
 * The usual chat suite: one server with GENEROUS_LIMITS for the `describe` block (`useServer`),
 * and a `connectUser` whose sockets are closed after it. Call inside `describe`.
 */
export function chatSuite(): {
  readonly srv: TestServer;
  connectUser: (
    ...a: Parameters<typeof user> extends [string, ...infer R] ? R : never
  ) => Promise<Client>;
} {
  const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });
  const open: Client[] = [];
  afterAll(() => closeAll(...open.map((c) => c.socket)));
  return {
    srv,
    connectUser: async (...a) => {
      const c = await user(srv.url, ...a);
      open.push(c);
      return c;
    },
  };
}
