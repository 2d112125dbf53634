import { Module } from '@nestjs/common';
import { ApiAuthGuard } from '../auth/api-auth.guard.js';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { MembersModule } from '../members/members.module.js';
import { RevocationBus } from './revocation-bus.js';
import { RevocationService } from './revocation.service.js';
import { RevocationsRepository } from './revocations.repository.js';
import { SessionsController } from './sessions.controller.js';

/**
 * Session revocation and the HTTP API's guard (which checks revocations too): every HTTP
 * module imports this one for `ApiAuthGuard`.
 */
@Module({
  imports: [MembersModule],
  controllers: [SessionsController],
  providers: [
    RevocationsRepository,
    RevocationBus,
    RevocationService,
    ApiAuthGuard,
    HttpValidationPipe,
  ],
  exports: [RevocationService, ApiAuthGuard, HttpValidationPipe, MembersModule],
})
export class RevocationModule {}
