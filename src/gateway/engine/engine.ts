import { Logger } from '@nestjs/common';
import { Adapter } from 'socket.io-adapter';
import type { AppServer } from '../socket.types.js';
import { isDeliveryGuarded, withDeliveryGuard, type AdapterConstructor } from './delivery-guard.js';
import type { EngineEvents } from './engine-connection.js';
import { hookConnections } from './engine-hooks.js';
import { setSlowConsumerGuard, type SlowConsumerGuard } from './slow-consumer.js';
import { checkEngineInternals, versionMismatches } from './versions.js';
import { corkEachFlush } from './ws-corking.js';

const logger = new Logger('Engine');

/**
 * Before the Socket.IO server is built: the engine.io / socket.io-adapter internals this folder
 * relies on must be there (else the start is refused: §12.4 and the slow-consumer drop would stop
 * working silently), and a version other than the one it was written for is announced loudly.
 * Returns the default adapter (socket.io's in-memory one, delivery-guarded) for ServerOptions.
 */
export function prepareEngine(): AdapterConstructor {
  const problems = checkEngineInternals();
  if (problems.length > 0)
    throw new Error(
      `Socket.IO engine internals changed, refusing to start: ${problems.join('; ')}`,
    );
  for (const line of versionMismatches())
    logger.warn(
      `${line}. Run test/delivery-guard, test/connect-storm-dedup, test/slow-consumer and ` +
        'test/ws-corking before trusting this build (docs/architecture.md, "Engine tweaks").',
    );
  return withDeliveryGuard(Adapter);
}

/**
 * After the server is built and its cluster adapter (if any) installed: the engine tweaks on
 * this server's engine.io events (corking each flush, the per-packet hooks), its slow-consumer
 * limit, and the check that every adapter was wrapped with withDeliveryGuard (an adapter
 * factory that forgot it would deliver duplicates in connect storms, §12.4).
 */
export function finishEngine(server: AppServer, slowConsumers: SlowConsumerGuard): void {
  const engine = server.engine as unknown as EngineEvents;
  setSlowConsumerGuard(server.engine, slowConsumers);
  corkEachFlush(engine);
  hookConnections(engine);
  if (!isDeliveryGuarded(server.of('/').adapter))
    throw new Error(
      'the Socket.IO adapter was not wrapped with withDeliveryGuard (src/gateway/engine/delivery-guard.ts)',
    );
}
