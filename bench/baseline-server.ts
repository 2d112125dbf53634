/**
 * The bare Socket.IO baseline: the ceiling of our stack. Plain socket.io 4.8.3 on node:http with
 * the same HS256 handshake check (jose), hand-written payload checks, rooms per conversation and
 * an in-memory seq — no Nest, no class-validator, no persistence. It speaks the events and acks
 * the benchmark scenarios use, exactly as our server does:
 *   conversation:create, conversation:join, message:send (ack {ok,data:{message}}), message:new
 *   fan-out to the conversation room and every participant's user room, connection:confirmed,
 *   and POST /api/v1/alerts/emergency → alert:emergency to the organization room.
 * With BARE_PRESENCE=1 it also does the one piece of contract work whose cost grows with the
 * square of an organization's size: `presence:changed` on a user's first connection and last
 * disconnection, to the organization (a parent's to its admin, nurse, staff and service roles,
 * §12.5), emitted as each handshake completes — no store, no batching. Scenario 6 runs it as the
 * floor the contract puts under any implementation's storm.
 * With REDIS_URL it runs as one of several nodes: @socket.io/redis-adapter for fan-out, and the
 * conversation and its seq in Redis (HSET / INCR) so seq stays gapless across nodes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { jwtVerify, type JWTPayload } from 'jose';
import { Server, type Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents, Ack } from '../src/protocol/events.js';
import type { ErrorObject } from '../src/protocol/errors.js';
import type { Alert, Conversation, Message } from '../src/protocol/models.js';

interface User {
  userId: string;
  organizationId: string;
  role: string;
}
type BareSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  { user: User }
>;

const env = process.env;
const port = Number(env.PORT ?? 3100);
const secret = new TextEncoder().encode(env.JWT_SECRET ?? '');
const maxPayload = Number(env.WS_MAX_PAYLOAD_BYTES ?? 65536);
const presence = env.BARE_PRESENCE === '1';
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLES = new Set(['admin', 'nurse', 'staff', 'parent', 'service']);

function error(type: ErrorObject['type'], message: string): { ok: false; error: ErrorObject } {
  return { ok: false, error: { type, message, timestamp: new Date().toISOString() } };
}

async function verify(token: unknown): Promise<User | undefined> {
  if (typeof token !== 'string' || token.length === 0) return undefined;
  const raw = token.replace(/^Bearer\s+/i, '');
  try {
    const { payload } = await jwtVerify(raw, secret, {
      algorithms: ['HS256'],
      clockTolerance: 30,
      requiredClaims: ['exp'],
    });
    return claims(payload);
  } catch {
    return undefined;
  }
}

function claims(p: JWTPayload): User | undefined {
  const r = p as Record<string, unknown>;
  const userId = [r.sub, r.userId, r.id].find((v) => typeof v === 'string');
  const organizationId = [r.organizationId, r.orgId, r.tenantId].find((v) => typeof v === 'string');
  const role = typeof r.role === 'string' ? r.role : 'staff';
  if (typeof userId !== 'string' || typeof organizationId !== 'string') return undefined;
  if (!ID.test(userId) || !ID.test(organizationId) || !ROLES.has(role)) return undefined;
  return { userId, organizationId, role };
}

/** Conversations: in memory, or (multi-node) in Redis with a local cache. */
interface ConversationStore {
  create(c: Conversation): Promise<Conversation>;
  get(id: string): Promise<Conversation | undefined>;
  nextSeq(id: string): Promise<number>;
  lastSeq(id: string): Promise<number>;
}

class MemoryStore implements ConversationStore {
  private readonly convs = new Map<string, Conversation>();
  create(c: Conversation): Promise<Conversation> {
    const existing = this.convs.get(c.id);
    if (existing) return Promise.resolve(existing);
    this.convs.set(c.id, c);
    return Promise.resolve(c);
  }
  get(id: string): Promise<Conversation | undefined> {
    return Promise.resolve(this.convs.get(id));
  }
  nextSeq(id: string): Promise<number> {
    const c = this.convs.get(id)!;
    return Promise.resolve(++c.lastSeq);
  }
  lastSeq(id: string): Promise<number> {
    return Promise.resolve(this.convs.get(id)?.lastSeq ?? 0);
  }
}

class RedisStore implements ConversationStore {
  private readonly cache = new Map<string, Conversation>();
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async create(c: Conversation): Promise<Conversation> {
    const set = await this.redis.set(`${this.prefix}conv:${c.id}`, JSON.stringify(c), 'NX');
    if (set === 'OK') {
      this.cache.set(c.id, c);
      return c;
    }
    return (await this.get(c.id))!;
  }
  async get(id: string): Promise<Conversation | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const raw = await this.redis.get(`${this.prefix}conv:${id}`);
    if (!raw) return undefined;
    const c = JSON.parse(raw) as Conversation;
    this.cache.set(id, c);
    return c;
  }
  nextSeq(id: string): Promise<number> {
    return this.redis.incr(`${this.prefix}seq:${id}`);
  }
  async lastSeq(id: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}seq:${id}`)) ?? 0);
  }
}

function checkSend(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return '$';
  const o = p as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (
      k !== 'messageId' &&
      k !== 'conversationId' &&
      k !== 'content' &&
      k !== 'type' &&
      k !== 'metadata'
    )
      return k;
  }
  if (typeof o.messageId !== 'string' || !UUID4.test(o.messageId)) return 'messageId';
  if (typeof o.conversationId !== 'string' || !UUID.test(o.conversationId)) return 'conversationId';
  if (typeof o.content !== 'string' || o.content.length < 1 || o.content.length > 10_000)
    return 'content';
  if (o.type !== undefined && o.type !== 'text') return 'type';
  if (o.metadata !== undefined) {
    if (typeof o.metadata !== 'object' || o.metadata === null || Array.isArray(o.metadata))
      return 'metadata';
    if (JSON.stringify(o.metadata).length > 2048) return 'metadata';
  }
  return undefined;
}

async function main(): Promise<void> {
  const http = createServer((req, res) => void handleHttp(req, res));
  const io = new Server<
    ClientToServerEvents,
    ServerToClientEvents,
    Record<string, never>,
    { user: User }
  >(http, {
    path: '/socket.io',
    transports: ['polling', 'websocket'],
    pingInterval: Number(env.WS_PING_INTERVAL_MS ?? 25000),
    pingTimeout: Number(env.WS_PING_TIMEOUT_MS ?? 60000),
    maxHttpBufferSize: maxPayload,
    serveClient: false,
    perMessageDeflate: false,
  });

  let store: ConversationStore = new MemoryStore();
  const redisClients: Redis[] = [];
  if (env.REDIS_URL) {
    const prefix = env.REDIS_KEY_PREFIX ?? 'wcrbare:';
    const pub = new Redis(env.REDIS_URL, { lazyConnect: false });
    const sub = pub.duplicate();
    const data = pub.duplicate();
    for (const c of [pub, sub, data]) {
      c.on('error', () => undefined);
      redisClients.push(c);
    }
    io.adapter(createAdapter(pub, sub, { key: `${prefix}socket.io` }));
    store = new RedisStore(data, prefix);
  }

  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = auth?.token ?? socket.handshake.headers.authorization;
    verify(token).then(
      (user) => {
        if (!user) {
          const err = new Error('AUTHENTICATION_FAILED') as Error & { data?: unknown };
          err.data = error('AUTHENTICATION_FAILED', 'Authentication failed: invalid').error;
          next(err);
          return;
        }
        socket.data.user = user;
        next();
      },
      () => next(new Error('AUTHENTICATION_FAILED')),
    );
  });

  /** Sessions per user (this node only), for first-connection / last-disconnection. */
  const sessions = new Map<string, number>();
  const presenceRooms = (u: User) =>
    u.role === 'parent'
      ? ['admin', 'nurse', 'staff', 'service'].map((r) => `org:${u.organizationId}:role:${r}`)
      : [`org:${u.organizationId}`];
  function announcePresence(socket: BareSocket, user: User): void {
    const key = `${user.organizationId}\u0000${user.userId}`;
    const n = (sessions.get(key) ?? 0) + 1;
    sessions.set(key, n);
    const at = new Date().toISOString();
    if (n === 1)
      io.to(presenceRooms(user)).emit('presence:changed', {
        userId: user.userId,
        status: 'online',
        lastSeenAt: at,
      });
    socket.on('disconnect', () => {
      const left = (sessions.get(key) ?? 1) - 1;
      if (left > 0) return void sessions.set(key, left);
      sessions.delete(key);
      io.to(presenceRooms(user)).emit('presence:changed', {
        userId: user.userId,
        status: 'offline',
        lastSeenAt: new Date().toISOString(),
      });
    });
  }

  io.on('connection', (s) => {
    const socket = s as BareSocket;
    const user = socket.data.user;
    void socket.join([
      `user:${user.userId}`,
      `org:${user.organizationId}`,
      `org:${user.organizationId}:role:${user.role}`,
    ]);
    if (presence) announcePresence(socket, user);
    socket.emit('connection:confirmed', {
      userId: user.userId,
      organizationId: user.organizationId,
      role: user.role as 'staff',
      socketId: socket.id,
      serverTime: new Date().toISOString(),
    });

    socket.on('conversation:create', (payload, ack) => {
      const p = payload as unknown as Record<string, unknown>;
      const ids = p?.participantIds;
      if (
        !Array.isArray(ids) ||
        ids.length < 1 ||
        ids.length > 500 ||
        !ids.every((i) => typeof i === 'string' && ID.test(i))
      ) {
        ack?.(error('VALIDATION_ERROR', 'participantIds'));
        return;
      }
      const id =
        typeof p.conversationId === 'string' && UUID.test(p.conversationId)
          ? p.conversationId
          : randomUUID();
      const participantIds = [...new Set([user.userId, ...(ids as string[])])];
      const conv: Conversation = {
        id,
        organizationId: user.organizationId,
        title: typeof p.title === 'string' ? p.title : null,
        participantIds,
        createdBy: user.userId,
        createdAt: new Date().toISOString(),
        lastSeq: 0,
      };
      store.create(conv).then(
        (c) => ack?.({ ok: true, data: { conversation: c } }),
        () => ack?.(error('INTERNAL_ERROR', 'store')),
      );
    });

    socket.on('conversation:join', (payload, ack) => {
      const id = (payload as unknown as Record<string, unknown>)?.conversationId;
      if (typeof id !== 'string' || !UUID.test(id)) {
        ack?.(error('VALIDATION_ERROR', 'conversationId'));
        return;
      }
      void (async () => {
        const conv = await store.get(id);
        if (!conv || conv.organizationId !== user.organizationId)
          return ack?.(error('RESOURCE_NOT_FOUND', 'not found'));
        if (!conv.participantIds.includes(user.userId))
          return ack?.(error('AUTHORIZATION_FAILED', 'not a participant'));
        await socket.join(`conversation:${id}`);
        const lastSeq = await store.lastSeq(id);
        ack?.({
          ok: true,
          data: { conversation: { ...conv, lastSeq }, messages: [], hasMore: false, lastSeq },
        });
      })().catch(() => ack?.(error('INTERNAL_ERROR', 'join')));
    });

    socket.on('message:send', (payload, ack) => {
      const bad = checkSend(payload);
      if (bad) {
        ack?.(error('VALIDATION_ERROR', bad));
        return;
      }
      void (async () => {
        const conv = await store.get(payload.conversationId);
        if (!conv || conv.organizationId !== user.organizationId)
          return ack?.(error('RESOURCE_NOT_FOUND', 'not found'));
        if (!conv.participantIds.includes(user.userId))
          return ack?.(error('AUTHORIZATION_FAILED', 'not a participant'));
        const seq = await store.nextSeq(conv.id);
        const message: Message = {
          id: payload.messageId,
          conversationId: conv.id,
          seq,
          senderId: user.userId,
          organizationId: user.organizationId,
          type: 'text',
          content: payload.content,
          metadata: payload.metadata ?? {},
          createdAt: new Date().toISOString(),
          editedAt: null,
          deletedAt: null,
        };
        io.to([`conversation:${conv.id}`, ...conv.participantIds.map((u) => `user:${u}`)]).emit(
          'message:new',
          { message },
        );
        const reply: Ack<{ message: Message }> = { ok: true, data: { message } };
        ack?.(reply);
      })().catch(() => ack?.(error('INTERNAL_ERROR', 'send')));
    });

    socket.on('ping', (ack) => {
      if (typeof ack === 'function')
        ack({ ok: true, data: { pong: true, serverTime: new Date().toISOString() } });
      else socket.emit('pong', { serverTime: new Date().toISOString() });
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/health') return send(200, { status: 'ok' });
    if (req.method !== 'POST' || req.url !== '/api/v1/alerts/emergency')
      return send(404, error('RESOURCE_NOT_FOUND', 'no route').error);
    const user = await verify(req.headers.authorization);
    if (!user) return send(401, error('AUTHENTICATION_FAILED', 'invalid').error);
    if (user.role !== 'service' && user.role !== 'admin')
      return send(403, error('AUTHORIZATION_FAILED', 'role').error);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65536) return send(413, error('BAD_REQUEST', 'too large').error);
      chunks.push(chunk as Buffer);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return send(400, error('BAD_REQUEST', 'malformed JSON').error);
    }
    const { organizationId, title, message, severity } = body;
    if (typeof organizationId !== 'string' || !ID.test(organizationId))
      return send(400, error('VALIDATION_ERROR', 'organizationId').error);
    if (typeof title !== 'string' || title.length < 1 || title.length > 200)
      return send(400, error('VALIDATION_ERROR', 'title').error);
    if (typeof message !== 'string' || message.length < 1 || message.length > 2000)
      return send(400, error('VALIDATION_ERROR', 'message').error);
    if (
      severity !== undefined &&
      severity !== 'info' &&
      severity !== 'warning' &&
      severity !== 'critical'
    ) {
      return send(400, error('VALIDATION_ERROR', 'severity').error);
    }
    if (user.role === 'admin' && user.organizationId !== organizationId)
      return send(403, error('AUTHORIZATION_FAILED', 'org').error);
    const alert: Alert = {
      id: randomUUID(),
      kind: 'emergency',
      organizationId,
      severity: severity ?? 'critical',
      title,
      message,
      createdAt: new Date().toISOString(),
    };
    io.to(`org:${organizationId}`).emit('alert:emergency', { alert });
    send(202, { alert });
  }

  // The same accept queue as our server (src/main.ts): in a storm the default 511 resets clients.
  http.listen(port, env.HOST ?? '127.0.0.1', 4096);
  const stop = () => {
    void io.close();
    for (const c of redisClients) c.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline failed: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
