import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { assertOrganizationAccess, type ApiPrincipal } from '../http/api-auth.guard.js';
import { MembersService } from '../members/members.service.js';
import { AppError } from '../protocol/errors.js';
import { ChannelService, parseChannel } from './channel.service.js';

/**
 * Who may publish where (§9, §11): a service to any channel; an admin to `org:<own>` and its
 * topics, and to `user:<id>` of a member of its organization. The reserved `role` topic is
 * refused like at subscribe.
 */
@Injectable()
export class ChannelPublishService {
  constructor(
    private readonly channels: ChannelService,
    private readonly members: MembersService,
    @InjectPinoLogger('channels') private readonly logger: PinoLogger,
  ) {}

  async publish(
    principal: ApiPrincipal,
    channel: string,
    event: string,
    data: unknown,
  ): Promise<{ channel: string; publishedAt: string }> {
    const parsed = parseChannel(channel);
    if (parsed.topic === 'role') throw AppError.forbidden('The role topic is reserved');
    if (parsed.kind === 'org') {
      assertOrganizationAccess(principal, parsed.id);
    } else if (
      principal.role === 'admin' &&
      !(await this.members.isMember(principal.organizationId, parsed.id))
    ) {
      throw AppError.forbidden('Admins may publish to members of their own organization only');
    }
    const result = this.channels.publish(channel, event, data);
    this.logger.debug(
      { channelKind: parsed.kind, actorRole: principal.role },
      'channel message published',
    );
    return result;
  }
}
