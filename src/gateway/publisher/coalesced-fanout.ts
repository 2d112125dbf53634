import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { EmitBatcher } from './emit-batcher.js';
import { RealtimePublisher } from './realtime.publisher.js';

/**
 * Fan-out that storms repeat (`presence:changed` to a whole organization on every first
 * connection), emitted together: what a service emits through `add` runs with the other emits of
 * the same window (10 ms, stretched after an expensive run), each socket's frames in one write
 * (emit-batcher.ts). Services say what to emit; how it is coalesced stays in the gateway layer.
 */
@Injectable()
export class CoalescedFanout implements OnApplicationShutdown {
  private readonly batcher: EmitBatcher;

  constructor(
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('publisher') logger: PinoLogger,
  ) {
    this.batcher = new EmitBatcher(10, 1000, (err) =>
      logger.error({ errorName: (err as Error)?.name }, 'coalesced emit failed'),
    );
  }

  /** Runs `emit` with the publisher in the next window, in order; resolves once it ran. */
  add(emit: (publisher: RealtimePublisher) => void): Promise<void> {
    return this.batcher.add(() => emit(this.publisher));
  }

  /** What is queued goes out now (shutdown). */
  onApplicationShutdown(): void {
    this.batcher.flush();
  }
}
