import { Allow, IsString, Matches, MaxLength, MinLength } from 'class-validator';
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
}
