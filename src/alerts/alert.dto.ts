import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { ID_PATTERN, ROLES, type Role } from '../protocol/constants.js';
import { NoControlCharacters } from '../protocol/dto/validators.js';
import type { Severity } from '../protocol/models.js';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
const MAX_EXPLICIT_RECIPIENTS = 1000;

abstract class AlertBaseDto {
  @IsString()
  @Matches(ID_PATTERN)
  organizationId: string;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @NoControlCharacters()
  title: string;

  @IsString()
  @MinLength(1)
  @MaxLength(2000)
  @NoControlCharacters()
  message: string;
}

/** POST /api/v1/alerts/emergency: the whole organization. */
export class EmergencyAlertDto extends AlertBaseDto {
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @NoControlCharacters()
  location?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

abstract class TargetedAlertDto extends AlertBaseDto {
  @IsString()
  @Matches(ID_PATTERN)
  studentId: string;

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
}

/** POST /api/v1/alerts/medication-reminder: roles default ["nurse"], severity info. */
export class MedicationReminderDto extends TargetedAlertDto {
  @IsISO8601({ strict: true })
  dueAt: string;
}

/** POST /api/v1/alerts/health: roles default ["nurse", "admin"]. */
export class HealthAlertDto extends TargetedAlertDto {
  @IsIn(SEVERITIES)
  severity: Severity;
}
