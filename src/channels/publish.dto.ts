import { Allow, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ID_PATTERN } from '../protocol/constants.js';
import { MaxJsonBytes, NoControlCharacters } from '../protocol/dto/validators.js';

/** POST /api/v1/channels/publish body. `data` is any JSON value up to 64 KiB. */
export class ChannelPublishDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  channel: string;

  @IsString()
  @Matches(/^[A-Za-z0-9:._-]{1,64}$/)
  event: string;

  @Allow()
  @MaxJsonBytes(65536)
  @NoControlCharacters()
  data?: unknown;

  /** §12.1: the organization a `user:` channel is delivered in (default: the caller's). */
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN)
  organizationId?: string;
}
