import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { ID_PATTERN, ROLES, type Role } from '../protocol/constants.js';
import { MaxJsonBytes, NoControlCharacters } from '../protocol/dto/validators.js';
import type { Priority } from '../protocol/models.js';

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export const MAX_EXPLICIT_RECIPIENTS = 1000;

/** POST /api/v1/notifications (§9, §11). */
export class NotificationCreateDto {
  @IsString()
  @Matches(ID_PATTERN)
  organizationId: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_EXPLICIT_RECIPIENTS)
  @IsString({ each: true })
  @Matches(ID_PATTERN, { each: true })
  userIds?: string[];

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ROLES.length)
  @IsIn(ROLES, { each: true })
  roles?: Role[];

  @IsString()
  @Matches(/^[a-z0-9:_-]{1,64}$/)
  type: string;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @NoControlCharacters()
  title: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @NoControlCharacters()
  body?: string;

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: Priority;

  @IsOptional()
  @IsObject()
  @MaxJsonBytes(16384)
  @NoControlCharacters()
  data?: Record<string, unknown>;
}
