import { deferIfRunning } from './deferred-flush.js';
import type { EngineConnection, EngineEvents } from './engine-connection.js';
import { checkSlowConsumer } from './slow-consumer.js';

/** One function for every connection (nothing allocated per connection). */
function onPacketCreate(this: EngineConnection, packet: { data?: unknown }): void {
  deferIfRunning(this);
  checkSlowConsumer(this, packet);
}

function onConnection(conn: EngineConnection): void {
  conn.on('packetCreate', onPacketCreate);
}

/**
 * Hooks the per-packet tweaks (deferred flush, slow-consumer drop) onto engine.io's public
 * events: each new connection's `packetCreate` gets the one shared listener above. No engine.io
 * method is replaced.
 */
export function hookConnections(engine: EngineEvents): void {
  engine.on('connection', onConnection);
}
