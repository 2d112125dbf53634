import { Module } from '@nestjs/common';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { MembersModule } from '../members/members.module.js';
import { RevocationBus } from './revocation-bus.js';
import { RevocationHook } from './revocation.hook.js';
import { RevocationService } from './revocation.service.js';
import { RevocationsRepository } from './revocations.repository.js';
import { SessionsController } from './sessions.controller.js';

/**
 * Session revocation (§9, §12.2): the API, the in-memory view every node keeps, the node-to-node
 * bus. Registers its check with CredentialChecks, so the handshake, `auth:refresh` and the HTTP
 * API's guard (AuthModule) refuse revoked tokens without importing this module.
 */
@Module({
  imports: [MembersModule],
  controllers: [SessionsController],
  providers: [
    RevocationsRepository,
    RevocationBus,
    RevocationService,
    RevocationHook,
    HttpValidationPipe,
  ],
  exports: [RevocationService, HttpValidationPipe, MembersModule],
})
export class RevocationModule {}
