import { Body, Controller, HttpCode, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiAuthGuard, Principal, type ApiPrincipal } from '../auth/api-auth.guard.js';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { RequestId } from '../http/request-id.js';
import { RevocationService, type RevokeResult } from './revocation.service.js';
import { RevokeSessionsDto } from './revoke.dto.js';

@Controller('api/v1/sessions')
@UseGuards(ApiAuthGuard)
@UsePipes(HttpValidationPipe)
export class SessionsController {
  constructor(private readonly revocations: RevocationService) {}

  @Post('revoke')
  @HttpCode(200)
  revoke(
    @Principal() principal: ApiPrincipal,
    @Body() body: RevokeSessionsDto,
    @RequestId() requestId: string | undefined,
  ): Promise<RevokeResult> {
    return this.revocations.revoke(principal, body.userId, body.organizationId, requestId);
  }
}
