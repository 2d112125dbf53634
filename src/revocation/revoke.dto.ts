import { IsString, Matches } from 'class-validator';
import { ID_PATTERN } from '../protocol/constants.js';

export class RevokeSessionsDto {
  @IsString()
  @Matches(ID_PATTERN)
  userId: string;
}
