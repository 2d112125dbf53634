import { Injectable } from '@nestjs/common';
import { RealtimePublisher } from '../publisher/realtime.publisher.js';
import { ConnectionLifecycle } from './connection-lifecycle.service.js';

/** Graceful shutdown of the sessions (§12.8): refuse new handshakes, then end every session. */
@Injectable()
export class DrainService {
  private isDraining = false;

  constructor(
    private readonly publisher: RealtimePublisher,
    private readonly lifecycle: ConnectionLifecycle,
  ) {}

  /** From now on handshakes are refused (SERVICE_UNAVAILABLE). */
  start(): void {
    this.isDraining = true;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /**
   * A server disconnect for every local socket, all in this tick (the caller made sure no
   * received event is left unanswered: its ack is queued before the disconnect packet on the
   * same connection). The client sees `io server disconnect` and reconnects, to another node
   * behind the load balancer. Then waits for the disconnect hooks and for the connections to
   * close (a polling client fetches its disconnect packet with its next request), bounded.
   */
  async disconnectAll(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.publisher.disconnectAll();
    await this.lifecycle.disconnectsSettled(timeoutMs);
    await this.publisher.connectionsClosed(Math.max(0, deadline - Date.now()));
  }
}
