import { deliveryKey, IN_FLIGHT_MS, replayOnce } from '../engine/delivery-guard.js';
import type { AppSocket } from '../socket.types.js';
import type { Delivery, ReplayedItem } from './session.js';

type Emit = (event: string, payload?: unknown) => boolean;

/**
 * A connect hook's deliveries, in order, to its socket; stops when the socket is gone. A replayed
 * item goes through the §12.4 guard (delivery-guard.ts): not sent when its live copy reached the
 * socket during the connect sequence, and its live copy still on the way is dropped afterwards.
 * Returns how many were sent.
 */
export function sendDeliveries(socket: AppSocket, deliveries: readonly Delivery[]): number {
  let sent = 0;
  const inFlightSince = Date.now() - IN_FLIGHT_MS;
  for (const d of deliveries) {
    if (socket.disconnected) break;
    const emit = () => (socket.emit as Emit)(d.event, d.payload);
    if (!d.replay) {
      emit();
      sent++;
      continue;
    }
    const { key, inFlight } = guardOf(d.replay, inFlightSince);
    if (replayOnce(socket, key, inFlight, emit)) sent++;
  }
  return sent;
}

/**
 * The guard's key of a replayed item, and whether its live copy may still arrive: a message
 * created less than IN_FLIGHT_MS ago may still have its broadcast in flight; alerts always (they
 * are few).
 */
function guardOf(item: ReplayedItem, inFlightSince: number): { key: string; inFlight: boolean } {
  if (item.kind === 'alert') return { key: deliveryKey.alert(item.id), inFlight: true };
  return {
    key: deliveryKey.message(item.id),
    inFlight: Date.parse(item.createdAt) > inFlightSince,
  };
}
