import { IsOptional, IsString, Matches } from 'class-validator';
import { ID_PATTERN } from '../protocol/constants.js';

/** POST /api/v1/sessions/revoke body (§12.1): the user of `organizationId` (default: the caller's). */
export class RevokeSessionsDto {
  @IsString()
  @Matches(ID_PATTERN)
  userId: string;

  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN)
  organizationId?: string;
}
