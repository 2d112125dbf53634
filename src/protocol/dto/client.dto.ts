/**
 * One validated DTO class per client event (§5). The validation pipe whitelists: any property
 * not declared here is refused with `whitelistValidation`.
 */
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { ID_PATTERN } from '../constants.js';
import type { ClientPayload } from '../events.js';
import type { PresenceStatus } from '../models.js';
import { MaxJsonBytes } from './validators.js';

/** Ids we look up (conversations, messages, notifications, alerts): uuids and other safe ids. */
export const LOOKUP_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Message content and metadata limits (§5), shared by `message:send`'s fast check. */
export const MAX_CONTENT_CHARS = 10000;
export const MAX_METADATA_BYTES = 2048;

export class ChannelDto implements ClientPayload<'subscribe'> {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  channel: string;
}

export class ConversationCreateDto implements ClientPayload<'conversation:create'> {
  @IsOptional()
  @IsUUID('all')
  conversationId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  title?: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @Matches(ID_PATTERN, { each: true })
  participantIds: string[];
}

export class ConversationJoinDto implements ClientPayload<'conversation:join'> {
  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  afterSeq?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class ConversationHistoryDto implements ClientPayload<'conversation:history'> {
  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  beforeSeq?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class ConversationRefDto implements ClientPayload<'conversation:leave'> {
  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;
}

/** `conversation:list` (§12.6): `before` is an opaque `nextCursor` (base64url). */
export class ConversationListDto implements NonNullable<ClientPayload<'conversation:list'>> {
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/)
  before?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class MessageSendDto implements ClientPayload<'message:send'> {
  // Reported as `isDefined` when missing (required), `isUuid` when malformed.
  @IsDefined()
  @IsUUID('4')
  messageId: string;

  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;

  @IsString()
  @MinLength(1)
  @MaxLength(MAX_CONTENT_CHARS)
  content: string;

  @IsOptional()
  @IsIn(['text'])
  type?: 'text';

  @IsOptional()
  @IsObject()
  @MaxJsonBytes(MAX_METADATA_BYTES)
  metadata?: Record<string, unknown>;
}

export class MessageEditDto implements ClientPayload<'message:edit'> {
  @IsString()
  @Matches(LOOKUP_ID)
  messageId: string;

  @IsString()
  @MinLength(1)
  @MaxLength(MAX_CONTENT_CHARS)
  content: string;
}

export class MessageRefDto implements ClientPayload<'message:delete'> {
  @IsString()
  @Matches(LOOKUP_ID)
  messageId: string;
}

export class MessageReceiptDto implements ClientPayload<'message:delivered'> {
  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;

  @IsString()
  @Matches(LOOKUP_ID)
  messageId: string;
}

export class MessageTypingDto implements ClientPayload<'message:typing'> {
  @IsString()
  @Matches(LOOKUP_ID)
  conversationId: string;

  @IsBoolean()
  isTyping: boolean;
}

export class PresenceUpdateDto implements ClientPayload<'presence:update'> {
  @IsIn(['online', 'away', 'offline'])
  status: PresenceStatus;
}

export class PresenceQueryDto {
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @Matches(ID_PATTERN, { each: true })
  userIds?: string[];
}

export class NotificationReadDto implements ClientPayload<'notification:read'> {
  @IsString()
  @Matches(LOOKUP_ID)
  notificationId: string;
}

export class AlertAcknowledgeDto implements ClientPayload<'alert:acknowledge'> {
  @IsString()
  @Matches(LOOKUP_ID)
  alertId: string;
}

export class AuthRefreshDto implements ClientPayload<'auth:refresh'> {
  @IsString()
  @MinLength(1)
  @MaxLength(16384)
  token: string;
}
