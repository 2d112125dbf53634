import { Module } from '@nestjs/common';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PresenceGateway } from './presence.gateway.js';
import { PresenceService } from './presence.service.js';
import { PRESENCE_STORE, type PresenceStore } from './presence.store.js';

/** Presence; the store is memory on one node (the Redis implementation plugs in here). */
@Module({
  providers: [
    { provide: PRESENCE_STORE, useFactory: (): PresenceStore => new MemoryPresenceStore() },
    PresenceService,
    PresenceGateway,
  ],
  exports: [PresenceService],
})
export class PresenceModule {}
