/**
 * Which DTO validates which client event: the one place that ties the typed event map (the
 * SDK's `ClientEventSpec`, which cannot carry decorators) to the validation rules. The docs read
 * each payload's schema from these classes (`dtoSchema`), and the compiler holds every DTO to
 * its payload type: same properties, same required ones, same types. A DTO that gains, loses or
 * retypes a property without the event map following (or the reverse) does not compile.
 */
import type { ClientEventName, ClientPayload } from '../events.js';
import type { DtoClass } from '../schema.js';
import * as dto from './client.dto.js';

/** `null`: the event takes no payload (`ping`). */
export const CLIENT_EVENT_DTOS = {
  ping: null,
  subscribe: dto.ChannelDto,
  unsubscribe: dto.ChannelDto,
  'conversation:create': dto.ConversationCreateDto,
  'conversation:join': dto.ConversationJoinDto,
  'conversation:history': dto.ConversationHistoryDto,
  'conversation:leave': dto.ConversationRefDto,
  'conversation:list': dto.ConversationListDto,
  'message:send': dto.MessageSendDto,
  'message:edit': dto.MessageEditDto,
  'message:delete': dto.MessageRefDto,
  'message:delivered': dto.MessageReceiptDto,
  'message:read': dto.MessageReceiptDto,
  'message:typing': dto.MessageTypingDto,
  'presence:update': dto.PresenceUpdateDto,
  'presence:query': dto.PresenceQueryDto,
  'notification:read': dto.NotificationReadDto,
  'alert:acknowledge': dto.AlertAcknowledgeDto,
  'auth:refresh': dto.AuthRefreshDto,
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
