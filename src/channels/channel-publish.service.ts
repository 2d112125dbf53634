import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { MembersService } from '../members/members.service.js';
import { AppError } from '../protocol/errors.js';
import { ChannelService, parseChannel } from './channel.service.js';

/**
 * Who may publish where (§9, §11, §12.1): a service to any channel; an admin to `org:<own>` and
 * its topics, and to `user:<id>[:<topic>]` of a member of its organization. A `user:` channel is
 * delivered within `organizationId` (default: the caller's own, a service token's included); an
 * admin naming another organization → 403; an `org:` channel with a different `organizationId`
 * → 400. The reserved `role` topic is refused like at subscribe.
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
    organizationId?: string,
  ): Promise<{ channel: string; publishedAt: string }> {
    const parsed = parseChannel(channel);
    if (parsed.topic === 'role') throw AppError.forbidden('The role topic is reserved');
    let target: string;
    if (parsed.kind === 'org') {
      if (organizationId !== undefined && organizationId !== parsed.id) {
        throw AppError.validation(
          [{ field: 'organizationId', constraints: ['matchesChannelOrganization'] }],
          "organizationId differs from the channel's organization",
        );
      }
      target = parsed.id;
      assertOrganizationAccess(principal, target);
    } else {
      target = organizationId ?? principal.organizationId;
      assertOrganizationAccess(principal, target);
      if (principal.role === 'admin' && !(await this.members.isMember(target, parsed.id))) {
        throw AppError.forbidden('Admins may publish to members of their own organization only');
      }
    }
    const result = this.channels.publish(channel, event, data, target);
    this.logger.debug(
      { channelKind: parsed.kind, actorRole: principal.role },
      'channel message published',
    );
    return result;
  }
}
