import { Global, Module } from '@nestjs/common';
import { AuditService } from './audit.service.js';

/** The audit trail (ids and counts, never content), written to the database. */
@Global()
@Module({ providers: [AuditService], exports: [AuditService] })
export class AuditModule {}
