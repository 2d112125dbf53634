import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  ServerEventName,
  ServerEventSpec,
  ServerToClientEvents,
} from '../../src/protocol/events.js';
import type { ErrorObject } from '../../src/protocol/errors.js';

/** Acks arrive in milliseconds; the margin is for a loaded 2-core CI machine. */
export const ACK_TIMEOUT_MS = 10_000;

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectOptions {
  namespace?: '/' | '/communication';
  transports?: ('websocket' | 'polling')[];
  auth?: Record<string, unknown>;
  extraHeaders?: Record<string, string>;
  query?: Record<string, string>;
  timeoutMs?: number;
}

/** An unconnected client with reconnection off, like Socket.IO's own tests. */
export function client(url: string, token: string | undefined, o: ConnectOptions = {}): TestSocket {
  return io(`${url}${o.namespace && o.namespace !== '/' ? o.namespace : ''}`, {
    transports: o.transports ?? ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: o.auth ?? (token !== undefined ? { token } : {}),
    extraHeaders: o.extraHeaders,
    query: o.query,
    timeout: o.timeoutMs ?? ACK_TIMEOUT_MS,
  });
}

/**
 * Connects and resolves with the socket and its `connection:confirmed` payload. Listeners for
 * `events` are attached before the handshake so nothing sent on connect is missed.
 */
export async function connect(
  url: string,
  token: string,
  o: ConnectOptions & { record?: ServerEventName[] } = {},
): Promise<{
  socket: TestSocket;
  confirmed: ServerEventSpec['connection:confirmed'];
  recorder: Recorder;
}> {
  const socket = client(url, token, o);
  const recorder = new Recorder(socket, o.record ?? []);
  const confirmed = await new Promise<ServerEventSpec['connection:confirmed']>(
    (resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('connect timed out')),
        o.timeoutMs ?? ACK_TIMEOUT_MS,
      );
      socket.once('connection:confirmed', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(
          Object.assign(new Error(err.message), { data: (err as Error & { data?: unknown }).data }),
        );
      });
    },
  );
  return { socket, confirmed, recorder };
}

/** Resolves with the `connect_error` of a handshake that must be refused. */
export function connectError(
  url: string,
  token: string | undefined,
  o: ConnectOptions = {},
): Promise<{ message: string; data?: ErrorObject }> {
  const socket = client(url, token, o);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('expected connect_error, got nothing'));
    }, o.timeoutMs ?? ACK_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error('expected the handshake to be refused, but it connected'));
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      resolve({ message: err.message, data: (err as Error & { data?: ErrorObject }).data });
    });
  });
}

/** Emits with an ack and resolves with the raw ack (`{ok, data}` or `{ok, error}`). */
export function request<E extends ClientEventName>(
  socket: TestSocket,
  event: E,
  ...rest: ClientPayload<E> extends void ? [] : [payload: ClientPayload<E>]
): Promise<Ack<ClientAckData<E>>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), ACK_TIMEOUT_MS);
    const ack = (res: Ack<ClientAckData<E>>) => {
      clearTimeout(timer);
      resolve(res);
    };
    (socket.emit as (...a: unknown[]) => void)(event, ...rest, ack);
  });
}

/** Like `request` but untyped: for sending malformed payloads on purpose. */
export function rawRequest(
  socket: TestSocket,
  event: string,
  ...payload: unknown[]
): Promise<Ack<unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), ACK_TIMEOUT_MS);
    (socket.emit as (...a: unknown[]) => void)(event, ...payload, (res: Ack<unknown>) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

/** Resolves the successful ack data, or throws with the error object. */
export async function ok<E extends ClientEventName>(
  socket: TestSocket,
  event: E,
  ...rest: ClientPayload<E> extends void ? [] : [payload: ClientPayload<E>]
): Promise<ClientAckData<E>> {
  const res = await request(socket, event, ...rest);
  if (!res.ok)
    throw Object.assign(new Error(`${event} failed: ${res.error.type} ${res.error.message}`), {
      error: res.error,
    });
  return res.data;
}

/** Waits for one server event (optionally matching), with a timeout. */
export function waitFor<E extends ServerEventName>(
  socket: TestSocket,
  event: E,
  match: (p: ServerEventSpec[E]) => boolean = () => true,
  timeoutMs = ACK_TIMEOUT_MS,
): Promise<ServerEventSpec[E]> {
  return new Promise((resolve, reject) => {
    const handler = (p: ServerEventSpec[E]) => {
      if (!match(p)) return;
      clearTimeout(timer);
      (socket.off as (e: string, h: unknown) => void)(event, handler);
      resolve(p);
    };
    const timer = setTimeout(() => {
      (socket.off as (e: string, h: unknown) => void)(event, handler);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    (socket.on as (e: string, h: unknown) => void)(event, handler);
  });
}

/** Records every listed event a socket receives, in order, for later assertions. */
export class Recorder {
  readonly events: Array<{ event: ServerEventName; payload: unknown }> = [];
  private waiters: Array<() => void> = [];

  constructor(socket: TestSocket, names: ServerEventName[]) {
    for (const name of names) {
      (socket.on as (e: string, h: (p: unknown) => void) => void)(name, (payload) => {
        this.events.push({ event: name, payload });
        for (const w of this.waiters) w();
      });
    }
  }

  of<E extends ServerEventName>(event: E): ServerEventSpec[E][] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload as ServerEventSpec[E]);
  }

  /** Waits until `predicate` holds over the recorded events. */
  until(
    predicate: (r: Recorder) => boolean,
    timeoutMs = ACK_TIMEOUT_MS,
    what = 'condition',
  ): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${this.events.map((e) => e.event).join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(check);
    });
  }
}

/**
 * Proves a negative: sends a ping round trip (the server answers in order on that socket, so any
 * event emitted before it would have arrived first), then checks nothing matching was recorded.
 */
export async function settle(socket: TestSocket): Promise<void> {
  await request(socket, 'ping');
}

export function closeAll(...sockets: Array<TestSocket | undefined>): void {
  for (const s of sockets) s?.close();
}
