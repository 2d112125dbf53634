import { Global, Module } from '@nestjs/common';
import { ApiAuthGuard } from './api-auth.guard.js';
import { CredentialChecks } from './credential-checks.js';
import { TokenVerifier } from './token-verifier.service.js';

/**
 * Who is calling: JWT verification (jose), the credential checks other modules register
 * (revocation), and the HTTP API's guard built on both. Used by the handshake, `auth:refresh`
 * and every controller.
 */
@Global()
@Module({
  providers: [TokenVerifier, CredentialChecks, ApiAuthGuard],
  exports: [TokenVerifier, CredentialChecks, ApiAuthGuard],
})
export class AuthModule {}
