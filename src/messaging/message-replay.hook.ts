import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { SessionContext } from '../sessions/session-hooks.js';
import { deliveryKey, IN_FLIGHT_MS, replayOnce } from '../gateway/engine/delivery-guard.js';
import { SessionService } from '../sessions/session.service.js';
import { MessagingService } from './messaging.service.js';

/**
 * §4 step 4 on both namespaces (order 20, after presence): the new socket gets every message of
 * its user's conversations above the delivered cursor as `message:new` with `replayed: true`, or
 * `conversation:sync-required` for a conversation more than 100 behind. The socket is already in
 * its user room, so anything sent meanwhile arrives live: nothing falls between the two; what
 * arrived live is not replayed, and a replayed message's late live copy is dropped (§12.4,
 * delivery-guard.ts).
 */
@Injectable()
export class MessageReplayHook implements OnModuleInit {
  constructor(
    private readonly sessions: SessionService,
    private readonly messaging: MessagingService,
    @InjectPinoLogger('replay') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHook({
      name: 'message-replay',
      order: 20,
      namespaces: ['/', '/communication'],
      onConnect: (ctx) => this.replay(ctx),
    });
  }

  async replay({ socket, user }: SessionContext): Promise<void> {
    const items = await this.messaging.replayFor(user);
    if (socket.disconnected || items.length === 0) return;
    let messages = 0;
    let syncs = 0;
    const inFlightSince = Date.now() - IN_FLIGHT_MS;
    for (const item of items) {
      if (item.kind === 'message') {
        const message = item.message;
        // Skipped when it reached the socket live already (§12.4); a live copy still on its way
        // is dropped for this socket instead.
        if (
          replayOnce(
            socket,
            deliveryKey.message(message.id),
            Date.parse(message.createdAt) > inFlightSince,
            () => socket.emit('message:new', { message, replayed: true }),
          )
        )
          messages++;
      } else {
        syncs++;
        socket.emit('conversation:sync-required', {
          conversationId: item.conversationId,
          deliveredSeq: item.deliveredSeq,
          lastSeq: item.lastSeq,
        });
      }
    }
    this.logger.debug({ userId: user.userId, messages, syncRequired: syncs }, 'replayed');
  }
}
