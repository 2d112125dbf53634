/**
 * Which DTO validates which client event: the one place that ties the typed event map (the
 * SDK's `ClientEventSpec`, which cannot carry decorators) to the validation rules. The docs read
 * each payload's schema from these classes (`dtoSchema`), and the compiler holds every DTO to
 * its payload type: same properties, same required ones, same types. A DTO that gains, loses or
 * retypes a property without the event map following (or the reverse) does not compile.
 */
import type { ClientEventName, ClientPayload } from '../events.js';
import type { DtoClass } from '../schema.js';
import {
  AlertAcknowledgeDto,
  AuthRefreshDto,
  ChannelDto,
  ConversationCreateDto,
  ConversationHistoryDto,
  ConversationJoinDto,
  ConversationListDto,
  ConversationRefDto,
  MessageEditDto,
  MessageReceiptDto,
  MessageRefDto,
  MessageSendDto,
  MessageTypingDto,
  NotificationReadDto,
  PresenceQueryDto,
  PresenceUpdateDto,
} from './client.dto.js';

/** `null`: the event takes no payload (`ping`). */
export const CLIENT_EVENT_DTOS = {
  ping: null,
  subscribe: ChannelDto,
  unsubscribe: ChannelDto,
  'conversation:create': ConversationCreateDto,
  'conversation:join': ConversationJoinDto,
  'conversation:history': ConversationHistoryDto,
  'conversation:leave': ConversationRefDto,
  'conversation:list': ConversationListDto,
  'message:send': MessageSendDto,
  'message:edit': MessageEditDto,
  'message:delete': MessageRefDto,
  'message:delivered': MessageReceiptDto,
  'message:read': MessageReceiptDto,
  'message:typing': MessageTypingDto,
  'presence:update': PresenceUpdateDto,
  'presence:query': PresenceQueryDto,
  'notification:read': NotificationReadDto,
  'alert:acknowledge': AlertAcknowledgeDto,
  'auth:refresh': AuthRefreshDto,
} as const satisfies Record<ClientEventName, DtoClass | null>;

/** Events whose payload may be omitted (`payload: … | undefined` in the event map). */
export type OptionalPayloadEvent = {
  [E in ClientEventName]: [ClientPayload<E>] extends [void]
    ? never
    : undefined extends ClientPayload<E>
      ? E
      : never;
}[ClientEventName];

// ─── compile-time agreement of DTOs and payload types ─────────────────────────────────────

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** True when the DTO instance and the payload have the same keys, required keys and types. */
type Agrees<D, P> =
  Same<keyof D, keyof P> extends true
    ? Same<RequiredKeys<D>, RequiredKeys<P>> extends true
      ? Same<D, P>
      : false
    : false;

type Dtos = typeof CLIENT_EVENT_DTOS;
type Disagreeing = {
  [E in ClientEventName]: Dtos[E] extends DtoClass
    ? Agrees<InstanceType<Dtos[E]>, NonNullable<ClientPayload<E>>> extends true
      ? never
      : E
    : [ClientPayload<E>] extends [void]
      ? never
      : E;
}[ClientEventName];

/** Names the events whose DTO and payload type disagree (a compile error lists them). */
const agreement: { [E in Disagreeing]: 'DTO and ClientEventSpec payload disagree' } = {};
void agreement;
