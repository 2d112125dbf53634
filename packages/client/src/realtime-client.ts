import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { NamespaceName } from './protocol/constants.js';
import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  ServerEventName,
  ServerEventSpec,
  ServerToClientEvents,
} from './protocol/events.js';
import type { ErrorObject } from './protocol/errors.js';
import type { ConversationSummary, Message } from './protocol/models.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { isErrorObject, RealtimeError } from './errors.js';
import { decodeJwtExp } from './jwt.js';
import { MessageTracker } from './message-tracker.js';
import { Outbox, type OutboxEntry, type OutboxStorage } from './outbox.js';

/** Returns a valid token (e.g. from your identity provider's silent refresh). */
export type TokenProvider = () => string | Promise<string>;

export interface RealtimeClientOptions {
  /**
   * Server origin, e.g. `https://realtime.example.org` (no namespace, no path). Normally one URL
   * (a load balancer in front of the nodes). A list is tried in turn: after a connection failure,
   * a server disconnect or a node that stopped answering, the next reconnect goes to the next URL.
   */
  url: string | readonly string[];
  /** A token to start with. With only a token, the session ends when it expires. */
  token?: string;
  /** Called for a fresh token before `exp` (then sent as `auth:refresh`) and before a reconnect. */
  tokenProvider?: TokenProvider;
  /** `/` (everything) or `/communication` (conversation and message events only). Default `/`. */
  namespace?: NamespaceName;
  /** Default `['websocket', 'polling']`: websocket first, long-polling as the fallback. */
  transports?: ('websocket' | 'polling')[];
  /** How long to wait for an ack before rejecting with ACK_TIMEOUT (default 10000 ms). */
  ackTimeoutMs?: number;
  /**
   * This many ACK_TIMEOUTs in a row on a connected socket mean the node stopped answering (frozen,
   * overloaded): the client drops the connection and reconnects (default 2; 0 turns it off).
   */
  reconnectAfterAckTimeouts?: number;
  /**
   * `sendMessage` retries SERVICE_UNAVAILABLE, INTERNAL_ERROR, ACK_TIMEOUT and RATE_LIMIT_EXCEEDED
   * with the same `messageId` (backoff, or the server's `retryAfterMs`) for this long before it
   * reports the send failed (default 120000 ms).
   */
  sendRetryWindowMs?: number;
  /**
   * Where unsent messages are kept so they survive a page reload or tab close and are sent (same
   * `messageId`, never twice) when a client of the same user opens again. Default: `localStorage`
   * when the platform has it, else memory only. `false` keeps nothing.
   */
  outboxStorage?: OutboxStorage | false;
  /** Refresh this long before `exp` (default 60 s, at most half of the token's remaining life). */
  refreshLeadMs?: number;
  /** Reconnect backoff (exponential with jitter). */
  backoff?: Partial<BackoffOptions>;
  /** Give up reconnecting after this many failed attempts in a row (default: never). */
  maxReconnectAttempts?: number;
  /** `connect()` rejects when the first session is not confirmed within this time (default 20000 ms). */
  connectTimeoutMs?: number;
  /** Page through `conversation:sync-required` automatically (default true). */
  autoSync?: boolean;
  /** Extra socket.io-client options (e.g. `extraHeaders` outside browsers). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Events the client itself emits (prefixed `client:` so they never collide with the server's). */
export interface ClientLifecycleEvents {
  /** The connection state changed; `reason` is Socket.IO's disconnect reason or an error type. */
  'client:state': (state: ConnectionState, reason?: string) => void;
  /** Something the app should know about: a failed refresh, the session ended, a failed catch-up. */
  'client:error': (error: RealtimeError) => void;
  /**
   * After a reconnect or a server `sync:required`: every tracked conversation has been caught up;
   * `messages` is how many missed messages were delivered (server replay plus catch-up pages).
   */
  'client:synced': (info: {
    conversations: number;
    messages: number;
    reason: 'reconnect' | 'sync-required';
  }) => void;
  /** The outbox changed: messages not yet acknowledged, with when the next attempt goes. */
  'client:outbox': (pending: readonly OutboxEntry[]) => void;
}

export type ServerListener<E extends ServerEventName> = (payload: ServerEventSpec[E]) => void;
export type ListenerMap = { [E in ServerEventName]: ServerListener<E> } & ClientLifecycleEvents;
export type ListenableEvent = keyof ListenerMap;

/** `emit` arguments: none for payload-less events, optional for optional payloads, else required. */
export type EmitArgs<E extends ClientEventName> = [ClientPayload<E>] extends [void]
  ? []
  : undefined extends ClientPayload<E>
    ? [payload?: Exclude<ClientPayload<E>, undefined>]
    : [payload: ClientPayload<E>];

export interface SendMessageOptions {
  /** Reuse the id of an earlier attempt; by default a new uuid v4 (the idempotency key). */
  messageId?: string;
  metadata?: Record<string, unknown>;
  /** Retry window for this send (default: the client's `sendRetryWindowMs`). */
  retryWindowMs?: number;
}

/** One page of `conversation:list`. */
export interface ConversationPage {
  conversations: ConversationSummary[];
  /** Pass as `before` for the next page; null on the last page. */
  nextCursor: string | null;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type AnyListener = (...args: unknown[]) => void;

const TRANSIENT: ReadonlySet<string> = new Set([
  'ACK_TIMEOUT',
  'SERVICE_UNAVAILABLE',
  'RATE_LIMIT_EXCEEDED',
  'INTERNAL_ERROR',
]);

/** A uuid v4 from the platform's crypto (browsers and Node ≥ 19). */
export function newMessageId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Socket.IO's connect_error for a failed transport (engine.io-client's TransportError). */
type ConnectErrorLike = Error & {
  data?: unknown;
  description?: unknown;
  context?: { responseText?: unknown; status?: unknown };
};

/** The refusal text the server put in an HTTP error body (`{code, message}`), when readable. */
function refusalMessage(err: ConnectErrorLike): string | undefined {
  const text = err.context?.responseText;
  if (typeof text !== 'string' || text.length === 0 || text.length > 2000) return undefined;
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A typed client for the White Cross real-time server. One instance is one logical session: it
 * reconnects by itself (jittered exponential backoff), refreshes the token before it expires,
 * and after a reconnect pages every joined conversation from the last `seq` it delivered, so the
 * app sees every message exactly once and never a gap.
 */
export class RealtimeClient {
  private sock: ClientSocket;
  private readonly urls: readonly string[];
  private urlIndex = 0;
  private readonly outboxStore: Outbox;
  private ackTimeoutsInARow = 0;
  private forcedReconnect = false;
  /** Missed messages delivered since the last (re)connect or sync:required, for `client:synced`. */
  private catchUpCount = 0;
  private readonly listeners = new Map<string, Set<AnyListener>>();
  private readonly tracker = new MessageTracker();
  private readonly joined = new Set<string>();
  private readonly backoff: BackoffOptions;
  private token: string | undefined;
  private state: ConnectionState = 'connecting';
  private closed = false;
  private attempt = 0;
  private confirmations = 0;
  private authFailures = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private refreshing?: Promise<void>;
  private lastDroppedToken?: string;
  private confirmed?: ServerEventSpec['connection:confirmed'];

  constructor(private readonly options: RealtimeClientOptions) {
    if (!options.token && !options.tokenProvider)
      throw new TypeError('RealtimeClient needs a token or a tokenProvider');
    this.token = options.token;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.urls = (typeof options.url === 'string' ? [options.url] : [...options.url]).map((u) =>
      u.replace(/\/$/, ''),
    );
    if (this.urls.length === 0) throw new TypeError('RealtimeClient needs at least one url');
    this.outboxStore = new Outbox(options.outboxStorage);
    this.sock = this.createSocket(this.urls[0]);
  }

  /** The server URL in use (one of `options.url`). */
  get url(): string {
    return this.urls[this.urlIndex];
  }

  /** The underlying socket.io-client socket (a new one after a switch to another URL). */
  get socket(): ClientSocket {
    return this.sock;
  }

  private createSocket(url: string): ClientSocket {
    const options = this.options;
    const ns = options.namespace && options.namespace !== '/' ? options.namespace : '';
    const socket: ClientSocket = io(`${url}${ns}`, {
      transports: options.transports ?? ['websocket', 'polling'],
      ...options.socketOptions,
      path: '/socket.io',
      forceNew: true,
      autoConnect: false,
      // Reconnection is ours: Socket.IO's manager would retry after an auth failure with the same
      // dead token and does not know about catch-up.
      reconnection: false,
      auth: (cb: (data: object) => void) => {
        this.tokenForHandshake().then(
          (token) => cb({ token }),
          () => cb({ token: this.token ?? '' }),
        );
      },
    });
    this.wire(socket);
    return socket;
  }

  /** The `connection:confirmed` of the current (or last) session. */
  get session(): ServerEventSpec['connection:confirmed'] | undefined {
    return this.confirmed;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Conversations joined through this client; they are re-joined and caught up after a reconnect. */
  get joinedConversations(): readonly string[] {
    return [...this.joined];
  }

  /** The seq up to which this client has delivered every message of a conversation to the app. */
  lastSeq(conversationId: string): number {
    return this.tracker.lastContiguousSeq(conversationId);
  }

  /** Opens the connection; resolves with the first `connection:confirmed`. */
  open(): Promise<ServerEventSpec['connection:confirmed']> {
    const timeoutMs = this.options.connectTimeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.offRaw('connection:confirmed', onConfirmed);
        this.offRaw('client:state', onState);
        this.offRaw('client:error', onError);
      };
      const onConfirmed: AnyListener = (c) => {
        cleanup();
        resolve(c as ServerEventSpec['connection:confirmed']);
      };
      // The first error explains the failure best (later ones are "session ended" follow-ups).
      let lastError: RealtimeError | undefined;
      const onError: AnyListener = (e) => (lastError ??= e as RealtimeError);
      const onState: AnyListener = (s) => {
        if (s !== 'closed') return;
        cleanup();
        reject(
          lastError ??
            new RealtimeError({
              type: 'CLIENT_CLOSED',
              message: 'Client closed before connecting',
            }),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        this.close();
        reject(
          lastError ??
            new RealtimeError({
              type: 'SERVICE_UNAVAILABLE',
              message: 'Connection not confirmed in time',
            }),
        );
      }, timeoutMs);
      this.onRaw('connection:confirmed', onConfirmed);
      this.onRaw('client:state', onState);
      this.onRaw('client:error', onError);
      this.setState('connecting');
      this.sock.connect();
    });
  }

  /** `conversation:list` (§12.6) and an async iterator over its pages. */
  readonly conversations = {
    /** One page of the caller's conversations, most recent activity first. */
    list: (o: { before?: string; limit?: number } = {}): Promise<ConversationPage> =>
      this.emit('conversation:list', {
        ...(o.before !== undefined ? { before: o.before } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      }),
    /** Every page in turn: `for await (const page of client.conversations.pages()) …`. */
    pages: (o: { limit?: number } = {}): AsyncGenerator<ConversationPage, void, undefined> =>
      this.listPages(o.limit),
  };

  private async *listPages(limit?: number): AsyncGenerator<ConversationPage, void, undefined> {
    let before: string | undefined;
    for (;;) {
      const page = await this.conversations.list({ before, limit });
      yield page;
      if (page.nextCursor === null) return;
      before = page.nextCursor;
    }
  }

  /** Messages not yet acknowledged (also those restored from a previous page load). */
  get outbox(): readonly OutboxEntry[] {
    return this.outboxStore.entries();
  }

  /** Sends a client event and resolves with the ack's `data`; rejects with a RealtimeError. */
  emit<E extends ClientEventName>(event: E, ...args: EmitArgs<E>): Promise<ClientAckData<E>> {
    return this.request(event, args[0]).then((data) => {
      this.afterAck(event, args[0], data);
      return data;
    });
  }

  /**
   * `message:send` with an idempotency key: the same `messageId` is reused on every retry, so a
   * send whose ack was lost (timeout, reconnect, a node that froze) is stored once and never
   * duplicated. SERVICE_UNAVAILABLE, INTERNAL_ERROR, ACK_TIMEOUT and RATE_LIMIT_EXCEEDED are
   * retried with backoff (or after the server's `retryAfterMs`) for up to `sendRetryWindowMs`
   * (2 minutes); the message waits in the outbox meanwhile (kept across a reload when storage is
   * available). Any other error, or the end of the window, rejects.
   */
  async sendMessage(
    conversationId: string,
    content: string,
    o: SendMessageOptions = {},
  ): Promise<Message> {
    const entry: OutboxEntry = {
      messageId: o.messageId ?? newMessageId(),
      conversationId,
      content,
      ...(o.metadata ? { metadata: o.metadata } : {}),
      queuedAt: Date.now(),
      attempts: 0,
      nextAttemptAt: Date.now(),
    };
    return this.deliver(entry, o.retryWindowMs);
  }

  private async deliver(entry: OutboxEntry, windowMs?: number): Promise<Message> {
    const deadline = Date.now() + (windowMs ?? this.options.sendRetryWindowMs ?? 120_000);
    this.outboxStore.put(entry);
    this.outboxChanged();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          entry.attempts++;
          const data = await this.emit('message:send', {
            messageId: entry.messageId,
            conversationId: entry.conversationId,
            content: entry.content,
            ...(entry.metadata ? { metadata: entry.metadata } : {}),
          });
          return data.message;
        } catch (err) {
          const wait =
            err instanceof RealtimeError
              ? (err.retryAfterMs ?? backoffDelay(attempt, this.backoff))
              : 0;
          if (
            !(err instanceof RealtimeError) ||
            !TRANSIENT.has(err.type) ||
            this.closed ||
            Date.now() + wait > deadline
          )
            throw err;
          entry.nextAttemptAt = Date.now() + wait;
          entry.lastError = err.type;
          this.outboxStore.put(entry);
          this.outboxChanged();
          await delay(wait);
          if (this.closed) throw err;
        }
      }
    } finally {
      // Sent, or reported failed to the app: either way no longer pending. A closed client keeps
      // it stored, so the next page load sends it.
      if (!this.closed) {
        this.outboxStore.remove(entry.messageId);
        this.outboxChanged();
      }
    }
  }

  private outboxChanged(): void {
    this.dispatch('client:outbox', this.outboxStore.entries());
  }

  /** After the first confirmation: sends what a previous page load of this user left unsent. */
  private resumeOutbox(c: ServerEventSpec['connection:confirmed']): void {
    for (const entry of this.outboxStore.restore(c.organizationId, c.userId)) {
      // Success needs no event of its own: the server sends `message:new` to the sender too.
      this.deliver(entry).catch((err: unknown) => this.reportError(err, 'message:send'));
    }
  }

  /** Listens to a server event or a `client:` lifecycle event. Returns an unsubscribe function. */
  on<E extends ListenableEvent>(event: E, listener: ListenerMap[E]): () => void {
    this.onRaw(event, listener as AnyListener);
    return () => this.off(event, listener);
  }

  once<E extends ListenableEvent>(event: E, listener: ListenerMap[E]): () => void {
    const wrapped: AnyListener = (...args) => {
      this.offRaw(event, wrapped);
      (listener as AnyListener)(...args);
    };
    this.onRaw(event, wrapped);
    return () => this.offRaw(event, wrapped);
  }

  off<E extends ListenableEvent>(event: E, listener?: ListenerMap[E]): void {
    if (listener) this.offRaw(event, listener as AnyListener);
    else this.listeners.delete(event);
  }

  /** Closes for good: no reconnect, no refresh; pending acks reject with CLIENT_CLOSED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.sock.disconnect();
    this.setState('closed', 'io client disconnect');
  }

  // ─── internals ───────────────────────────────────────────────────────────────────────────

  private onRaw(event: string, l: AnyListener): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(l);
  }

  private offRaw(event: string, l: AnyListener): void {
    this.listeners.get(event)?.delete(l);
  }

  private dispatch(event: string, ...args: unknown[]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (err) {
        // A throwing app listener must not break delivery to the others.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private setState(state: ConnectionState, reason?: string): void {
    if (this.state === state && state !== 'reconnecting') return;
    this.state = state;
    this.dispatch('client:state', state, reason);
  }

  private request<E extends ClientEventName>(
    event: E,
    payload: ClientPayload<E> | undefined,
  ): Promise<ClientAckData<E>> {
    if (this.closed)
      return Promise.reject(
        new RealtimeError({ type: 'CLIENT_CLOSED', message: 'Client is closed', event }),
      );
    const timeoutMs = this.options.ackTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const sentOn = this.sock;
      const wasConnected = sentOn.connected;
      const ack = (err: Error | null, res?: Ack<ClientAckData<E>>) => {
        if (err) {
          if (wasConnected && sentOn === this.sock && sentOn.connected) this.onAckTimeout();
          return reject(
            new RealtimeError({
              type: 'ACK_TIMEOUT',
              message: `No ack for ${event} within ${timeoutMs} ms`,
              event,
            }),
          );
        }
        if (sentOn === this.sock) this.ackTimeoutsInARow = 0;
        if (!res || typeof res !== 'object')
          return reject(
            new RealtimeError({ type: 'INTERNAL_ERROR', message: 'Malformed ack', event }),
          );
        if (res.ok) resolve(res.data);
        else reject(new RealtimeError(res.error));
      };
      const emitter = this.sock.timeout(timeoutMs) as unknown as {
        emit: (...a: unknown[]) => void;
      };
      if (payload === undefined) emitter.emit(event, ack);
      else emitter.emit(event, payload, ack);
    });
  }

  /** Keeps the joined set and the seq cursors in step with what the app asked for. */
  private afterAck<E extends ClientEventName>(
    event: E,
    payload: ClientPayload<E> | undefined,
    data: ClientAckData<E>,
  ): void {
    if (event === 'conversation:join') {
      const p = payload as ClientPayload<'conversation:join'>;
      const d = data as ClientAckData<'conversation:join'>;
      this.joined.add(p.conversationId);
      this.recordJoinPage(p.conversationId, p.afterSeq, d);
    } else if (event === 'conversation:leave') {
      this.joined.delete((payload as ClientPayload<'conversation:leave'>).conversationId);
    } else if (event === 'conversation:history') {
      for (const m of (data as ClientAckData<'conversation:history'>).messages)
        this.tracker.accept(m);
    }
  }

  private recordJoinPage(
    conversationId: string,
    afterSeq: number | undefined,
    d: ClientAckData<'conversation:join'>,
  ): void {
    if (afterSeq !== undefined) this.tracker.advanceFloor(conversationId, afterSeq);
    else if (d.messages.length > 0)
      this.tracker.advanceFloor(conversationId, d.messages[0].seq - 1);
    else this.tracker.advanceFloor(conversationId, d.lastSeq);
    for (const m of d.messages) this.tracker.accept(m);
  }

  /**
   * Two ack timeouts in a row on a connected socket: the node stopped answering (frozen,
   * overloaded) though the TCP connection looks alive, and Socket.IO's heartbeat would take
   * pingInterval + pingTimeout to notice. Leave it now and reconnect (to the next URL, if any).
   */
  private onAckTimeout(): void {
    const limit = this.options.reconnectAfterAckTimeouts ?? 2;
    if (limit <= 0 || this.closed || ++this.ackTimeoutsInARow < limit) return;
    this.ackTimeoutsInARow = 0;
    this.forcedReconnect = true;
    this.dispatch(
      'client:error',
      new RealtimeError({
        type: 'SERVICE_UNAVAILABLE',
        message: `The server at ${this.url} stopped answering (${limit} ack timeouts in a row): reconnecting`,
      }),
    );
    this.sock.disconnect();
  }

  private wire(s: ClientSocket): void {
    s.on('connect', () => {
      this.attempt = 0;
      this.ackTimeoutsInARow = 0;
    });
    s.onAny((event: string, ...args: unknown[]) => this.onServerEvent(event, args[0]));
    s.on('disconnect', (reason) => this.onDisconnect(reason));
    s.on('connect_error', (err: ConnectErrorLike) => this.onConnectError(err));
  }

  private onServerEvent(event: string, payload: unknown): void {
    switch (event) {
      case 'connection:confirmed':
        this.onConfirmed(payload as ServerEventSpec['connection:confirmed']);
        return;
      case 'message:new': {
        const p = payload as ServerEventSpec['message:new'];
        if (!p?.message || !this.tracker.accept(p.message)) return;
        if (p.replayed) this.catchUpCount++;
        this.dispatch(event, p);
        return;
      }
      case 'sync:required':
        this.dispatch(event, payload);
        // Live events from other nodes may have been lost: page every tracked conversation.
        if (this.options.autoSync !== false) void this.catchUpAll('sync-required');
        return;
      case 'conversation:sync-required':
        this.dispatch(event, payload);
        if (this.options.autoSync !== false) {
          const p = payload as ServerEventSpec['conversation:sync-required'];
          const from = this.tracker.knows(p.conversationId)
            ? this.tracker.lastContiguousSeq(p.conversationId)
            : p.deliveredSeq;
          this.catchUp(p.conversationId, from).catch((err: unknown) =>
            this.reportError(err, 'conversation:join'),
          );
        }
        return;
      case 'auth:expired':
        // The server disconnects right after; remember which token it refused.
        this.lastDroppedToken = this.token;
        this.dispatch(event, payload);
        return;
      default:
        this.dispatch(event, payload);
    }
  }

  private onConfirmed(c: ServerEventSpec['connection:confirmed']): void {
    this.confirmed = c;
    // The server replays missed messages right after this; count them with the catch-up pages.
    this.catchUpCount = 0;
    this.authFailures = 0;
    this.lastDroppedToken = undefined;
    const reconnected = this.confirmations++ > 0;
    this.setState('connected');
    this.scheduleRefresh();
    this.dispatch('connection:confirmed', c);
    if (reconnected) void this.catchUpAll('reconnect');
    else this.resumeOutbox(c);
  }

  /** After a reconnect: `conversation:join` with `afterSeq` for every joined conversation. */
  private async catchUpAll(reason: 'reconnect' | 'sync-required'): Promise<void> {
    if (reason === 'sync-required') this.catchUpCount = 0;
    const ids = [...this.joined];
    for (const id of ids) {
      try {
        await this.catchUp(id, this.tracker.lastContiguousSeq(id));
      } catch (err) {
        this.reportError(err, 'conversation:join');
      }
    }
    // Replayed `message:new`s the server sent on connect count too (they were missed as well):
    // counting only the catch-up pages reported 0 after a replay that delivered everything.
    this.dispatch('client:synced', {
      conversations: ids.length,
      messages: this.catchUpCount,
      reason,
    });
  }

  /** Pages forward from `afterSeq`, delivering every message the app has not seen as `message:new`. */
  private async catchUp(conversationId: string, afterSeq: number): Promise<number> {
    let from = afterSeq;
    let delivered = 0;
    for (let guard = 0; guard < 10_000; guard++) {
      let page: ClientAckData<'conversation:join'>;
      try {
        page = await this.request('conversation:join', {
          conversationId,
          afterSeq: from,
          limit: 100,
        });
      } catch (err) {
        if (err instanceof RealtimeError && err.type === 'RATE_LIMIT_EXCEEDED' && !this.closed) {
          await delay(err.retryAfterMs ?? 1000);
          continue;
        }
        throw err;
      }
      this.joined.add(conversationId);
      for (const m of page.messages) {
        if (!this.tracker.accept(m)) continue;
        delivered++;
        this.catchUpCount++;
        this.dispatch('message:new', { message: m, replayed: true });
      }
      const last = page.messages[page.messages.length - 1];
      if (!page.hasMore || !last) break;
      from = last.seq;
    }
    return delivered;
  }

  private onDisconnect(reason: string): void {
    clearTimeout(this.refreshTimer);
    if (this.closed) return;
    if (reason === 'io client disconnect' && this.forcedReconnect) {
      this.forcedReconnect = false;
      this.nextUrl();
      this.scheduleReconnect('ack timeout');
      return;
    }
    if (reason === 'io client disconnect') {
      this.setState('closed', reason);
      return;
    }
    if (reason === 'io server disconnect') {
      if (this.lastDroppedToken === undefined) {
        // Not after auth:expired: the node is draining (SIGTERM) or dropped us; come back (elsewhere).
        this.nextUrl();
        this.scheduleReconnect(reason);
        return;
      }
      // Expired or revoked: only come back with a token we have not been refused with (never
      // loop on a dead token).
      void this.retryWithFreshToken(reason);
      return;
    }
    this.nextUrl();
    this.scheduleReconnect(reason);
  }

  private onConnectError(err: ConnectErrorLike): void {
    if (this.closed) return;
    const data = isErrorObject(err.data) ? err.data : undefined;
    const error = new RealtimeError(data ?? this.transportError(err));
    this.dispatch('client:error', error);
    if (error.type === 'AUTHENTICATION_FAILED') {
      this.lastDroppedToken = this.token;
      if (++this.authFailures > 3) {
        this.setState('closed', error.type);
        return;
      }
      void this.retryWithFreshToken(error.type);
      return;
    }
    if (!data) this.nextUrl();
    this.scheduleReconnect(error.type, error.retryAfterMs);
  }

  /**
   * A connect_error without a §8 error object: the server was not reached, or refused the request
   * before Socket.IO (an origin not allowed: HTTP 403 with the reason in the body, readable by
   * the polling transport; a browser hides it for a cross-origin page and for websockets).
   */
  private transportError(err: ConnectErrorLike): {
    type: 'SERVICE_UNAVAILABLE' | 'AUTHORIZATION_FAILED';
    message: string;
    details?: unknown;
  } {
    const status = typeof err.description === 'number' ? err.description : undefined;
    const refusal = refusalMessage(err);
    if (status === 403 || (refusal && /origin/i.test(refusal)))
      return {
        type: 'AUTHORIZATION_FAILED',
        message: `The server at ${this.url} refused the connection: ${refusal ?? 'forbidden (HTTP 403)'}`,
        details: { url: this.url, status: 403 },
      };
    const cause = refusal ?? err.message ?? 'connection failed';
    const browserHint =
      typeof window !== 'undefined' && status !== undefined && status === 0
        ? "; if it is up, check that this page's origin is allowed by the server (CORS_ORIGIN)"
        : '';
    return {
      type: 'SERVICE_UNAVAILABLE',
      message: `Could not reach the server at ${this.url} (${cause})${browserHint}`,
      details: { url: this.url, ...(status !== undefined ? { status } : {}) },
    };
  }

  /** With several URLs: the next reconnect goes to the next one (on a single URL a no-op). */
  private nextUrl(): void {
    if (this.urls.length < 2 || this.closed) return;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const old = this.sock;
    old.offAny();
    old.removeAllListeners();
    old.disconnect();
    this.sock = this.createSocket(this.urls[this.urlIndex]);
  }

  private async retryWithFreshToken(reason: string): Promise<void> {
    const provider = this.options.tokenProvider;
    if (provider) {
      try {
        const token = await provider();
        const exp = decodeJwtExp(token);
        if (
          token &&
          token !== this.lastDroppedToken &&
          (exp === undefined || exp * 1000 > Date.now())
        ) {
          this.token = token;
          this.scheduleReconnect(reason);
          return;
        }
      } catch (err) {
        this.reportError(err, 'auth:refresh');
      }
    }
    this.dispatch(
      'client:error',
      new RealtimeError({
        type: 'AUTHENTICATION_FAILED',
        message: 'Session ended and no fresh token is available',
      }),
    );
    this.setState('closed', reason);
  }

  private scheduleReconnect(reason: string, minDelayMs = 0): void {
    if (this.closed) return;
    const max = this.options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY;
    if (this.attempt >= max) {
      this.dispatch(
        'client:error',
        new RealtimeError({ type: 'SERVICE_UNAVAILABLE', message: 'Gave up reconnecting' }),
      );
      this.close();
      return;
    }
    const wait = Math.max(minDelayMs, backoffDelay(this.attempt++, this.backoff));
    this.setState('reconnecting', reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.closed && !this.sock.connected) this.sock.connect();
    }, wait);
  }

  /** The token for the next handshake: a fresh one when the current is missing or about to expire. */
  private async tokenForHandshake(): Promise<string> {
    const provider = this.options.tokenProvider;
    const exp = this.token ? decodeJwtExp(this.token) : undefined;
    const stale = !this.token || (exp !== undefined && exp * 1000 - Date.now() < 5000);
    if (provider && stale) this.token = await provider();
    return this.token ?? '';
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (!this.options.tokenProvider || !this.token || this.closed) return;
    const exp = decodeJwtExp(this.token);
    if (exp === undefined) return;
    const remaining = exp * 1000 - Date.now();
    const lead = Math.min(this.options.refreshLeadMs ?? 60_000, Math.max(0, remaining / 2));
    this.refreshTimer = setTimeout(() => void this.refreshNow(), Math.max(0, remaining - lead));
  }

  /** Fetches a token from the provider and sends `auth:refresh`; retried until the old one expires. */
  refreshNow(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const provider = this.options.tokenProvider;
    if (!provider || this.closed) return;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const token = await provider();
        if (!this.sock.connected) {
          this.token = token; // used by the next handshake
          return;
        }
        await this.request('auth:refresh', { token });
        this.token = token;
        this.scheduleRefresh();
        return;
      } catch (err) {
        const e =
          err instanceof RealtimeError
            ? err
            : new RealtimeError({
                type: 'INTERNAL_ERROR',
                message: 'Token provider failed',
                event: 'auth:refresh',
              });
        this.dispatch('client:error', e);
        // Another user's token will never work; anything else may (provider hiccup, timeout).
        const exp = this.token ? decodeJwtExp(this.token) : undefined;
        if (e.type === 'AUTHORIZATION_FAILED' || exp === undefined || exp * 1000 < Date.now())
          return;
        await delay(
          Math.min(
            backoffDelay(attempt, this.backoff),
            Math.max(250, (exp * 1000 - Date.now()) / 4),
          ),
        );
      }
    }
  }

  private reportError(err: unknown, event: string): void {
    this.dispatch(
      'client:error',
      err instanceof RealtimeError
        ? err
        : new RealtimeError({
            type: 'INTERNAL_ERROR',
            message: (err as Error)?.message ?? 'Client error',
            event,
          }),
    );
  }
}

/**
 * Connects and resolves once the server confirmed the session.
 *
 * ```ts
 * const rt = await connect({ url: 'https://rt.example.org', tokenProvider: () => auth.getAccessToken() });
 * rt.on('message:new', ({ message }) => render(message));
 * const { messages } = await rt.emit('conversation:join', { conversationId });
 * await rt.sendMessage(conversationId, 'Ice pack in room 4, please');
 * ```
 */
export async function connect(options: RealtimeClientOptions): Promise<RealtimeClient> {
  const client = new RealtimeClient(options);
  await client.open();
  return client;
}

export type { ErrorObject };
