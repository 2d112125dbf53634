import type { Adapter } from 'socket.io-adapter';
import type { Namespace, ServerOptions } from 'socket.io';
import type { AppSocket } from '../socket.types.js';

/**
 * At most once per session (§12.4), also in a connect storm.
 *
 * A new socket joins its rooms first (so nothing sent meanwhile falls between live delivery and
 * the replay), then its connect hooks replay what it missed (§4 step 4). Two races follow, and
 * the guard closes both for `message:new` (by message id) and first copies of
 * `alert:emergency` (by alert id; re-sends flagged `redelivered` may repeat by contract):
 *
 * 1. live before replay: a broadcast reaches the socket after it joined, and the replay query
 *    (which runs later) finds the same item. While the connect sequence runs, every tracked item
 *    delivered to the socket — by a broadcast, on any adapter — is recorded; the replay skips
 *    what is recorded.
 * 2. replay before live: the item was committed before the replay query, but its broadcast was
 *    still on its way (the publishing node emits after its commit, and across nodes through
 *    Redis). The replayed item's id is kept after the sequence ends, and the live copy is
 *    dropped for that socket when it arrives. Only items young enough to still have a broadcast
 *    in flight are kept (created less than IN_FLIGHT_MS ago; alerts always, they are few), for
 *    ECHO_HOLD_MS after the sequence, or until their live copy was dropped.
 *
 * Broadcasts are filtered where every adapter (in-memory, Redis pub/sub, Redis streams, sharded)
 * hands a packet to its local sockets: socket.io-adapter's `broadcast`, which the cluster
 * adapters reach with `super.broadcast` both for their own emits and for the ones received from
 * other nodes, encodes the packet (`this._encode`) and then walks the target sockets
 * (`this.apply`), both through `this`. `withDeliveryGuard` wraps an adapter class or factory so
 * that each adapter it makes has its own `_encode` (notes the tracked key of the packet) and
 * `apply` (skips the sockets that must not get it) — on the adapter instance, one per namespace,
 * never on a prototype. While no socket of this process is guarded, it costs one comparison per
 * broadcast; a guarded socket costs one property read per delivery. The state lives on the
 * socket only while it is guarded; no listener is added per socket. engine/versions.ts checks
 * at start that socket.io-adapter still works this way.
 */

/** How long after its connect sequence a socket drops the late live copy of a replayed item. */
export const ECHO_HOLD_MS = 30_000;
/** A replayed item created less than this long ago may still have its broadcast in flight. */
export const IN_FLIGHT_MS = 60_000;

const STATE = Symbol('white-cross.delivery-guard');
/** On a guarded adapter: the tracked key of the packet being broadcast, between encode and apply. */
const PENDING = Symbol('white-cross.delivery-guard.pending');

interface GuardState {
  /** The connect sequence is running. */
  open: boolean;
  /** Items delivered to the socket during the sequence, live or replayed. */
  seen?: Set<string>;
  /** Replayed items whose live copy may still arrive. */
  held?: Set<string>;
  /** When the held items are released (after the sequence). */
  until: number;
}

type Guarded = AppSocket & { [STATE]?: GuardState };

interface BroadcastPacket {
  data?: unknown[];
}

let guardedSockets = 0;
const holding = new Set<Guarded>();
let sweeper: NodeJS.Timeout | undefined;
let dropped = 0;

export const deliveryKey = {
  message: (id: string): string => `m:${id}`,
  alert: (id: string): string => `a:${id}`,
};

/**
 * The key of an emergency alert's re-send (`redelivered: true`). Re-sends are not recorded, but a
 * socket whose connect sequence runs does not get one: its alert replay (§4 step 4) sends that
 * alert as the first copy (a re-send goes only to users who have not acknowledged an active
 * alert, which is what the replay sends), and a re-send must not arrive before it.
 */
const RESEND = '\u0000resend';

/** The tracked key of a broadcast packet, if it is a `message:new` or an alert (or its re-send). */
function keyOf(packet: BroadcastPacket): string | undefined {
  const data = packet.data;
  if (!Array.isArray(data)) return undefined;
  const payload = data[1] as
    { message?: { id?: unknown }; alert?: { id?: unknown }; redelivered?: unknown } | undefined;
  if (data[0] === 'message:new') {
    const id = payload?.message?.id;
    return typeof id === 'string' ? deliveryKey.message(id) : undefined;
  }
  if (data[0] === 'alert:emergency' && payload?.redelivered === true) return RESEND;
  if (data[0] === 'alert:emergency') {
    const id = payload?.alert?.id;
    return typeof id === 'string' ? deliveryKey.alert(id) : undefined;
  }
  return undefined;
}

/** Whether a live copy of `key` may go to a guarded socket; records it. */
function admit(socket: Guarded, state: GuardState, key: string): boolean {
  if (key === RESEND) return !state.open;
  if (state.open) {
    state.seen ??= new Set();
    if (state.seen.has(key)) return false;
    state.seen.add(key);
    return true;
  }
  if (!state.held?.delete(key)) return true;
  if (state.held.size === 0) release(socket);
  return false;
}

function release(socket: Guarded): void {
  if (socket[STATE] === undefined) return;
  delete socket[STATE];
  holding.delete(socket);
  guardedSockets--;
}

function sweep(): void {
  const now = Date.now();
  for (const socket of holding) {
    const state = socket[STATE];
    if (!state || state.until <= now || socket.disconnected) release(socket);
  }
  if (holding.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

type Deliver = (socket: Guarded) => void;

/** The two steps of socket.io-adapter's `broadcast` the guard hooks (see engine/versions.ts). */
interface BroadcastSteps {
  _encode(packet: BroadcastPacket, packetOpts: unknown): unknown;
  apply(opts: unknown, deliver: Deliver): void;
  [PENDING]?: string;
}

/** What `server.adapter()` takes: an adapter class, or a factory (the Redis adapters' `createAdapter`). */
export type AdapterConstructor = NonNullable<ServerOptions['adapter']>;

const guardedAdapters = new WeakSet<object>();

/** Whether an adapter was made through withDeliveryGuard (checked at start). */
export function isDeliveryGuarded(adapter: unknown): boolean {
  return typeof adapter === 'object' && adapter !== null && guardedAdapters.has(adapter);
}

/**
 * Wraps an adapter class or factory: every adapter it makes filters broadcasts for guarded
 * sockets (§12.4). Give the result to `server.adapter(...)`; works for the in-memory adapter and
 * any adapter built on socket.io-adapter's broadcast (Redis pub/sub, Redis streams, sharded).
 */
export function withDeliveryGuard(make: AdapterConstructor): AdapterConstructor {
  // socket.io calls it with `new`, which works for a class and for a factory alike.
  const Make = make as unknown as new (nsp: Namespace) => Adapter;
  function GuardedAdapter(nsp: Namespace): Adapter {
    const adapter = new Make(nsp);
    const steps = adapter as unknown as BroadcastSteps;
    const encode = steps._encode;
    const apply = steps.apply;
    // Own properties of this one adapter: the class's methods, called through `this`, with the
    // tracked key noted while the packet is encoded and consumed by the very next `apply`.
    Object.defineProperty(adapter, '_encode', {
      configurable: true,
      writable: true,
      value: function (this: BroadcastSteps, packet: BroadcastPacket, packetOpts: unknown) {
        this[PENDING] = guardedSockets === 0 ? undefined : keyOf(packet);
        return encode.call(this, packet, packetOpts);
      },
    });
    Object.defineProperty(adapter, 'apply', {
      configurable: true,
      writable: true,
      value: function (this: BroadcastSteps, opts: unknown, deliver: Deliver): void {
        const key = this[PENDING];
        if (key === undefined) return apply.call(this, opts, deliver);
        this[PENDING] = undefined;
        apply.call(this, opts, (socket: Guarded) => {
          const state = socket[STATE];
          if (state !== undefined && !admit(socket, state, key)) {
            dropped++;
            return;
          }
          deliver(socket);
        });
      },
    });
    guardedAdapters.add(adapter);
    return adapter;
  }
  return GuardedAdapter;
}

/** Before the socket joins its rooms (§4 step 1): start recording what reaches it. */
export function openDeliveryGuard(socket: AppSocket): void {
  const s = socket as Guarded;
  if (s[STATE] !== undefined) return;
  s[STATE] = { open: true, until: 0 };
  guardedSockets++;
}

/**
 * A replayed item: emitted unless the socket already got it during its connect sequence.
 * `inFlight`: its live broadcast may still arrive (then it is dropped for this socket).
 * Returns whether it was emitted.
 */
export function replayOnce(
  socket: AppSocket,
  key: string,
  inFlight: boolean,
  emit: () => void,
): boolean {
  const state = (socket as Guarded)[STATE];
  if (state?.open) {
    state.seen ??= new Set();
    if (state.seen.has(key)) return false;
    state.seen.add(key);
    if (inFlight) (state.held ??= new Set()).add(key);
  }
  emit();
  return true;
}

/** The connect sequence ended: keep only the replayed items whose live copy may still come. */
export function closeDeliveryGuard(socket: AppSocket): void {
  const s = socket as Guarded;
  const state = s[STATE];
  if (!state || !state.open) return;
  state.open = false;
  state.seen = undefined;
  if (!state.held || state.held.size === 0 || socket.disconnected) {
    release(s);
    return;
  }
  state.until = Date.now() + ECHO_HOLD_MS;
  holding.add(s);
  sweeper ??= setInterval(sweep, 1000).unref();
}

/** For tests and metrics: sockets guarded now, live copies dropped so far. */
export function deliveryGuardStats(): { guarded: number; holding: number; dropped: number } {
  return { guarded: guardedSockets, holding: holding.size, dropped };
}
