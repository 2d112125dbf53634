import { describePresenceStore } from '../../test/support/presence-store.contract.js';
import { MemoryPresenceStore } from './memory-presence.store.js';

describePresenceStore('memory', () => new MemoryPresenceStore());
