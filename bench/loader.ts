/**
 * A load-generator worker process (forked by bench/run.ts; several run in parallel so the load
 * does not starve itself). It holds real socket.io-client websocket connections with real HS256
 * JWTs, measures with HDR histograms, and checks correctness while it measures: every member of
 * a conversation must receive every message of it exactly once, in `seq` order, with no gap;
 * every acked message must reach every member before the run ends. All conversations of a
 * worker live in that worker, so the check is local.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  ServerToClientEvents,
} from '../src/protocol/events.js';
import type { Message } from '../src/protocol/models.js';
import { encode, newHistogram } from './lib/hist.js';
import type {
  AlertWaitResult,
  ChatResult,
  ChatSetup,
  IdleConnect,
  IdleConnectResult,
  IdleStatus,
  LoaderMessage,
  LoaderRequest,
  SendMode,
  StormCheck,
  StormCheckResult,
  StormConnect,
  StormConnectResult,
} from './lib/ipc.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const ACK_TIMEOUT_MS = 15_000;
const MAX_ERRORS = 20;
const MAX_PACED_INFLIGHT = 1000;
const wallNow = (): number => performance.timeOrigin + performance.now();

function send(msg: LoaderMessage): void {
  process.send?.(msg);
}

async function token(
  secret: string,
  userId: string,
  organizationId: string,
  role: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ organizationId, role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + 4 * 3600)
    .sign(new TextEncoder().encode(secret));
}

function open(target: string, tok: string): ClientSocket {
  return io(target, {
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 60_000,
    auth: { token: tok },
  });
}

/** emitWithAck with the contract's ack type (socket.io-client's typing loses it under timeout()). */
function request<E extends ClientEventName>(
  socket: ClientSocket,
  event: E,
  payload: ClientPayload<E>,
): Promise<Ack<ClientAckData<E>>> {
  const s = socket.timeout(ACK_TIMEOUT_MS) as unknown as {
    emitWithAck(e: string, p: unknown): Promise<Ack<ClientAckData<E>>>;
  };
  return s.emitWithAck(event, payload);
}

function describeConnectError(err: Error & { data?: unknown; description?: unknown }): string {
  const data = err.data as { type?: string } | undefined;
  if (data?.type) return `${err.message} (${data.type})`;
  // A transport error (socket.io-client's "websocket error") carries the WebSocket's own error
  // (ECONNRESET, an HTTP answer instead of the upgrade, …) as `description`.
  const cause = err.description as { message?: string; error?: { message?: string } } | undefined;
  const why = cause?.error?.message ?? cause?.message;
  return why ? `${err.message}: ${why}` : err.message;
}

/** Waits for connection:confirmed (our server's and the baseline's sign of a finished handshake). */
function confirmed(socket: ClientSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection:confirmed timeout')), timeoutMs);
    socket.once('connection:confirmed', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err: Error) => {
      clearTimeout(timer);
      reject(new Error(describeConnectError(err)));
    });
    // Connected, then closed before the confirmation arrived (a slow-consumer drop, a reset).
    socket.once('disconnect', (reason: string) => {
      clearTimeout(timer);
      reject(new Error(`disconnected before connection:confirmed: ${reason}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Chat

interface ChatClient {
  socket: ClientSocket;
  userId: string;
  conv: ConvState;
  /** Highest seq up to which this member received every message; must grow by exactly 1 each time. */
  lastSeq: number;
  /** Seqs received ahead of a gap (only ever non-empty when reordering is tolerated). */
  ahead: Set<number>;
  inflight: number;
}

interface PendingDelivery {
  t0: number;
  senderId: string;
  remaining: number;
  measured: boolean;
}

interface ConvState {
  id: string;
  members: ChatClient[];
  maxAckedSeq: number;
  seqToId: Map<number, string>;
  pending: Map<string, PendingDelivery>;
}

class Chat {
  clients: ChatClient[] = [];
  convs: ConvState[] = [];
  private content = '';
  private sending = false;
  private measuring = false;
  private ackHist = newHistogram();
  private deliveryHist = newHistogram();
  private ackedInWindow = 0;
  private ackedTotal = 0;
  private nacks = 0;
  private ackTimeouts = 0;
  private orderViolations = 0;
  private reordered = 0;
  private skipped = 0;
  private strictOrder = true;
  private errors: string[] = [];
  private windowStart = 0;
  private windowEnd = 0;
  private inflightTotal = 0;
  private pacer?: NodeJS.Timeout;
  private scheduleLagMs = 0;
  private progress?: NodeJS.Timeout;

  private error(msg: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(msg);
  }

  async setup(args: ChatSetup): Promise<{ clients: number }> {
    this.content = 'bench '.padEnd(args.contentChars, 'lorem ipsum dolor sit amet ');
    this.strictOrder = args.strictOrder;
    let i = 0;
    const ready: Array<Promise<void>> = [];
    for (const spec of args.conversations) {
      const conv: ConvState = {
        id: spec.conversationId,
        members: [],
        maxAckedSeq: 0,
        seqToId: new Map(),
        pending: new Map(),
      };
      this.convs.push(conv);
      for (const userId of spec.members) {
        const target = args.targets[i++ % args.targets.length];
        const socket = open(target, await token(args.secret, userId, args.organizationId, 'staff'));
        const ok = confirmed(socket, 20_000);
        ok.catch(() => undefined); // observed by Promise.all below; no unhandled rejection meanwhile
        ready.push(ok);
        const client: ChatClient = {
          socket,
          userId,
          conv,
          lastSeq: 0,
          ahead: new Set(),
          inflight: 0,
        };
        socket.on('message:new', (p) => this.onMessage(client, p.message, p.replayed === true));
        socket.on('disconnect', (reason) => {
          if (this.sending) this.error(`client ${userId} disconnected during the run: ${reason}`);
        });
        conv.members.push(client);
        this.clients.push(client);
      }
    }
    await Promise.all(ready);
    for (const conv of this.convs) {
      const [creator, ...rest] = conv.members;
      const res = await request(creator.socket, 'conversation:create', {
        conversationId: conv.id,
        participantIds: rest.map((m) => m.userId),
      });
      if (!res.ok)
        throw new Error(`conversation:create failed: ${res.error.type} ${res.error.message}`);
    }
    await Promise.all(
      this.clients.map(async (c) => {
        const res = await request(c.socket, 'conversation:join', {
          conversationId: c.conv.id,
          limit: 1,
        });
        if (!res.ok)
          throw new Error(`conversation:join failed: ${res.error.type} ${res.error.message}`);
        c.lastSeq = res.data.lastSeq;
        c.conv.maxAckedSeq = Math.max(c.conv.maxAckedSeq, res.data.lastSeq);
      }),
    );
    return { clients: this.clients.length };
  }

  private onMessage(client: ChatClient, message: Message, replayed: boolean): void {
    const conv = client.conv;
    if (message.conversationId !== conv.id) {
      this.error(
        `${client.userId} got a message of conversation ${message.conversationId}, not its own`,
      );
      this.orderViolations++;
      return;
    }
    if (replayed) return;
    const seq = message.seq;
    if (seq <= client.lastSeq || client.ahead.has(seq)) {
      this.orderViolations++;
      this.error(`${client.userId} in ${conv.id}: seq ${seq} received twice`);
    } else if (seq === client.lastSeq + 1) {
      client.lastSeq = seq;
      while (client.ahead.delete(client.lastSeq + 1)) client.lastSeq++;
    } else {
      // Arrived before an earlier seq: a reorder. Held aside until the gap closes; a gap that
      // never closes is a lost message (counted when the run stops).
      this.reordered++;
      client.ahead.add(seq);
      if (this.strictOrder) {
        this.orderViolations++;
        this.error(`${client.userId} in ${conv.id}: seq ${seq} after ${client.lastSeq}`);
      }
    }
    const known = conv.seqToId.get(message.seq);
    if (known === undefined) conv.seqToId.set(message.seq, message.id);
    else if (known !== message.id) {
      this.orderViolations++;
      this.error(`${conv.id}: seq ${message.seq} carries two messages`);
    }
    const p = conv.pending.get(message.id);
    if (p) {
      if (p.measured && message.senderId !== client.userId)
        this.deliveryHist.recordValue(Math.max(1, Math.round((performance.now() - p.t0) * 1000)));
      if (--p.remaining === 0) conv.pending.delete(message.id);
    }
  }

  private sendOne(client: ChatClient, onDone?: () => void): void {
    const conv = client.conv;
    const messageId = randomUUID();
    const t0 = performance.now();
    conv.pending.set(messageId, {
      t0,
      senderId: client.userId,
      remaining: conv.members.length,
      measured: this.measuring,
    });
    client.inflight++;
    this.inflightTotal++;
    const done = (err: Error | null, res?: Ack<{ message: Message }>): void => {
      client.inflight--;
      this.inflightTotal--;
      if (err || !res) {
        this.ackTimeouts++;
        this.error(`ack timeout for ${messageId}`);
      } else if (!res.ok) {
        this.nacks++;
        this.error(`message:send refused: ${res.error.type} ${res.error.message}`);
      } else {
        const m = res.data.message;
        if (m.id !== messageId || m.conversationId !== conv.id)
          this.error(`ack for ${messageId} carries another message`);
        const known = conv.seqToId.get(m.seq);
        if (known === undefined) conv.seqToId.set(m.seq, m.id);
        else if (known !== m.id) {
          this.orderViolations++;
          this.error(`${conv.id}: seq ${m.seq} acked for two messages`);
        }
        if (m.seq > conv.maxAckedSeq) conv.maxAckedSeq = m.seq;
        this.ackedTotal++;
        if (this.measuring) {
          this.ackedInWindow++;
          this.ackHist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        }
      }
      onDone?.();
    };
    request(client.socket, 'message:send', {
      messageId,
      conversationId: conv.id,
      content: this.content,
    }).then(
      (res) => done(null, res),
      (err: Error) => done(err),
    );
  }

  start(mode: SendMode): Record<string, never> {
    this.sending = true;
    this.progress = setInterval(
      () => send({ progress: true, count: this.ackedTotal, pid: process.pid }),
      500,
    );
    if (mode.mode === 'closed') {
      for (const c of this.clients) {
        const loop = (): void => {
          if (this.sending) this.sendOne(c, loop);
        };
        loop();
      }
    } else {
      const rate = mode.ratePerSec;
      const startAt = performance.now();
      let sent = 0;
      let rr = 0;
      this.pacer = setInterval(() => {
        const now = performance.now();
        const due = Math.floor(((now - startAt) * rate) / 1000);
        if (due - sent > 1)
          this.scheduleLagMs = Math.max(this.scheduleLagMs, ((due - sent) * 1000) / rate);
        while (sent < due && this.sending) {
          // An overloaded server must not make the loader pile up unbounded sends: past the cap
          // a scheduled send is skipped (and counted), so the achieved rate shows the overload.
          if (this.inflightTotal >= MAX_PACED_INFLIGHT) {
            if (this.measuring) this.skipped++;
          } else {
            this.sendOne(this.clients[rr++ % this.clients.length]);
          }
          sent++;
        }
      }, 1);
    }
    return {};
  }

  measure(): Record<string, never> {
    this.ackHist.reset();
    this.deliveryHist.reset();
    this.ackedInWindow = 0;
    this.scheduleLagMs = 0;
    this.skipped = 0;
    this.measuring = true;
    this.windowStart = performance.now();
    return {};
  }

  async stop(drainTimeoutMs: number): Promise<ChatResult> {
    this.measuring = false;
    this.windowEnd = performance.now();
    this.sending = false;
    if (this.pacer) clearInterval(this.pacer);
    if (this.progress) clearInterval(this.progress);
    const deadline = Date.now() + drainTimeoutMs;
    while (this.inflightTotal > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    if (this.inflightTotal > 0)
      this.error(`${this.inflightTotal} messages never acked within ${drainTimeoutMs} ms`);
    const behind = (): number => {
      let n = 0;
      for (const conv of this.convs)
        for (const m of conv.members) n += Math.max(0, conv.maxAckedSeq - m.lastSeq);
      return n;
    };
    while (behind() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const lost = behind();
    if (lost > 0) {
      for (const conv of this.convs) {
        for (const m of conv.members) {
          if (m.lastSeq < conv.maxAckedSeq)
            this.error(
              `${m.userId} in ${conv.id} stopped at seq ${m.lastSeq} of ${conv.maxAckedSeq} acked`,
            );
        }
      }
    }
    return {
      acked: this.ackedInWindow,
      windowMs: this.windowEnd - this.windowStart,
      ackHist: encode(this.ackHist),
      deliveryHist: encode(this.deliveryHist),
      ackedTotal: this.ackedTotal,
      nacks: this.nacks,
      ackTimeouts: this.ackTimeouts,
      lostDeliveries: lost,
      orderViolations: this.orderViolations,
      reordered: this.reordered,
      skipped: this.skipped,
      errors: this.errors,
      scheduleLagMs: Math.round(this.scheduleLagMs),
    };
  }

  close(): void {
    this.sending = false;
    if (this.pacer) clearInterval(this.pacer);
    if (this.progress) clearInterval(this.progress);
    for (const c of this.clients) c.socket.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Idle connections (scale) and alert fan-out

interface IdleSocket {
  socket: ClientSocket;
  pings: number;
  alertAt: number;
}

class Idle {
  sockets: IdleSocket[] = [];
  private closing = false;
  private disconnected = 0;
  private reasons: Record<string, number> = {};
  private events = 0;
  private lastEventAt = 0;
  private armed = false;
  private alertId?: string;
  private duplicates = 0;

  async connect(args: IdleConnect): Promise<IdleConnectResult> {
    const t0 = performance.now();
    let next = 0;
    let connected = 0;
    let failed = 0;
    const errors: string[] = [];
    const tokens = await Promise.all(
      args.users.map((u) => token(args.secret, u.userId, u.organizationId, u.role)),
    );
    const progress = setInterval(
      () => send({ progress: true, count: connected, pid: process.pid }),
      500,
    );
    const stopAt = Date.now() + args.deadlineMs;
    const worker = async (): Promise<void> => {
      while (next < args.users.length && Date.now() < stopAt) {
        const i = next++;
        const s: IdleSocket = { socket: open(args.target, tokens[i]), pings: 0, alertAt: 0 };
        const socket = s.socket;
        socket.io.on('ping', () => s.pings++);
        socket.onAny(() => {
          this.events++;
          this.lastEventAt = wallNow();
        });
        if (args.listenAlerts) {
          socket.on('alert:emergency', (p) => {
            if (!this.armed || p.replayed || p.redelivered) return;
            if (this.alertId && p.alert.id !== this.alertId) return;
            if (s.alertAt > 0) this.duplicates++;
            else s.alertAt = wallNow();
          });
        }
        try {
          await confirmed(socket, 60_000);
          connected++;
          this.sockets.push(s);
          socket.on('disconnect', (reason) => {
            if (this.closing) return;
            this.disconnected++;
            this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
          });
        } catch (err) {
          failed++;
          socket.disconnect();
          if (errors.length < MAX_ERRORS) errors.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, () => worker()));
    clearInterval(progress);
    send({ progress: true, count: connected, pid: process.pid });
    return {
      connected,
      failed,
      skipped: args.users.length - Math.min(next, args.users.length),
      durationMs: performance.now() - t0,
      errors,
    };
  }

  mark(): Record<string, never> {
    for (const s of this.sockets) s.pings = 0;
    this.events = 0;
    return {};
  }

  status(): IdleStatus {
    let minPings = Number.POSITIVE_INFINITY;
    let without = 0;
    let total = 0;
    let open = 0;
    for (const s of this.sockets) {
      if (!s.socket.connected) continue;
      open++;
      minPings = Math.min(minPings, s.pings);
      total += s.pings;
      if (s.pings === 0) without++;
    }
    return {
      open,
      disconnected: this.disconnected,
      disconnectReasons: this.reasons,
      minPings: open === 0 ? 0 : minPings,
      socketsWithoutPing: without,
      totalPings: total,
      eventsSinceMark: this.events,
      lastEventAt: this.lastEventAt,
    };
  }

  arm(alertId?: string): Record<string, never> {
    for (const s of this.sockets) s.alertAt = 0;
    this.duplicates = 0;
    this.alertId = alertId;
    this.armed = true;
    return {};
  }

  async wait(sentAt: number, timeoutMs: number): Promise<AlertWaitResult> {
    const expected = this.sockets.filter((s) => s.socket.connected).length;
    const deadline = Date.now() + timeoutMs;
    const received = (): number => this.sockets.reduce((n, s) => n + (s.alertAt > 0 ? 1 : 0), 0);
    while (received() < expected && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    this.armed = false;
    const hist = newHistogram();
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const s of this.sockets) {
      if (s.alertAt === 0) continue;
      first = Math.min(first, s.alertAt);
      last = Math.max(last, s.alertAt);
      hist.recordValue(Math.max(1, Math.round((s.alertAt - sentAt) * 1000)));
    }
    return {
      expected,
      received: received(),
      firstAt: first,
      lastAt: last,
      hist: encode(hist),
      duplicates: this.duplicates,
    };
  }

  close(): void {
    this.closing = true;
    for (const s of this.sockets) s.socket.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Connect storm: every socket at once, confirm times, and at-most-once / nothing-missing checks

interface StormSocket {
  socket: ClientSocket;
  userId: string;
  conversationId?: string;
  messages: Map<string, number>;
  replayedMessages: number;
  /** First copies (not redelivered) per alert id. */
  alerts: Map<string, number>;
  replayedAlerts: number;
  /** Why the server or transport closed it, if it did (then missing deliveries are expected). */
  closed?: string;
}

class Storm {
  sockets: StormSocket[] = [];

  async connect(args: StormConnect): Promise<StormConnectResult> {
    const tokens = await Promise.all(
      args.users.map((u) => token(args.secret, u.userId, u.organizationId, u.role)),
    );
    const hist = newHistogram();
    let connected = 0;
    let failed = 0;
    let lastAt = 0;
    const errors: string[] = [];
    const progress = setInterval(
      () => send({ progress: true, count: connected, pid: process.pid }),
      500,
    );
    // Every loader starts at the same moment.
    const lead = args.startAt - wallNow();
    if (lead > 0) await new Promise((r) => setTimeout(r, lead));
    await Promise.all(
      args.users.map(async (u, i) => {
        const s: StormSocket = {
          socket: open(args.target, tokens[i]),
          userId: u.userId,
          conversationId: u.conversationId,
          messages: new Map(),
          replayedMessages: 0,
          alerts: new Map(),
          replayedAlerts: 0,
        };
        s.socket.on('message:new', (p) => {
          s.messages.set(p.message.id, (s.messages.get(p.message.id) ?? 0) + 1);
          if (p.replayed) s.replayedMessages++;
        });
        s.socket.on('alert:emergency', (p) => {
          if (p.redelivered) return;
          s.alerts.set(p.alert.id, (s.alerts.get(p.alert.id) ?? 0) + 1);
          if (p.replayed) s.replayedAlerts++;
        });
        try {
          await confirmed(s.socket, args.deadlineMs);
          const at = wallNow();
          hist.recordValue(Math.max(1, Math.round((at - args.startAt) * 1000)));
          lastAt = Math.max(lastAt, at);
          connected++;
          this.sockets.push(s);
          s.socket.on('disconnect', (reason) => (s.closed ??= reason));
        } catch (err) {
          failed++;
          s.socket.disconnect();
          if (errors.length < MAX_ERRORS) errors.push((err as Error).message);
        }
      }),
    );
    clearInterval(progress);
    send({ progress: true, count: connected, pid: process.pid });
    return { connected, failed, errors, confirmHist: encode(hist), lastAt };
  }

  check(args: StormCheck): StormCheckResult {
    const r: StormCheckResult = {
      sockets: this.sockets.length,
      duplicateMessages: 0,
      duplicateAlerts: 0,
      missingMessages: 0,
      missingAlerts: 0,
      replayedMessages: 0,
      replayedAlerts: 0,
      disconnected: 0,
      examples: [],
    };
    const example = (line: string) => {
      if (r.examples.length < 5) r.examples.push(line);
    };
    for (const s of this.sockets) {
      r.replayedMessages += s.replayedMessages;
      r.replayedAlerts += s.replayedAlerts;
      for (const [id, n] of s.messages)
        if (n > 1) {
          r.duplicateMessages += n - 1;
          example(`${s.userId}: message ${id} ×${n}`);
        }
      for (const [id, n] of s.alerts)
        if (n > 1) {
          r.duplicateAlerts += n - 1;
          example(`${s.userId}: alert ${id} ×${n}`);
        }
      if (s.closed !== undefined) {
        r.disconnected++;
        example(`${s.userId}: disconnected (${s.closed})`);
        continue;
      }
      if (!args.complete) continue;
      for (const id of s.conversationId ? (args.expected[s.conversationId] ?? []) : [])
        if (!s.messages.has(id)) {
          r.missingMessages++;
          example(`${s.userId}: message ${id} missing`);
        }
      if (args.alertId && !s.alerts.has(args.alertId)) {
        r.missingAlerts++;
        example(`${s.userId}: alert missing`);
      }
    }
    return r;
  }

  close(): void {
    for (const s of this.sockets) {
      s.closed ??= 'closed by the loader';
      s.socket.disconnect();
    }
  }
}

// ---------------------------------------------------------------------------------------------

const chat = new Chat();
const idle = new Idle();
const storm = new Storm();

async function handle(req: LoaderRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'chat:setup':
      return chat.setup(req.args);
    case 'chat:start':
      return chat.start(req.args);
    case 'chat:measure':
      return chat.measure();
    case 'chat:stop':
      return chat.stop(req.args.drainTimeoutMs);
    case 'idle:connect':
      return idle.connect(req.args);
    case 'idle:mark':
      return idle.mark();
    case 'idle:status':
      return idle.status();
    case 'alert:arm':
      return idle.arm(req.args.alertId);
    case 'alert:wait':
      return idle.wait(req.args.sentAt, req.args.timeoutMs);
    case 'storm:connect':
      return storm.connect(req.args);
    case 'storm:check':
      return storm.check(req.args);
    case 'close':
      chat.close();
      idle.close();
      storm.close();
      setTimeout(() => process.exit(0), 300).unref();
      return {};
  }
}

process.on('message', (req: LoaderRequest) => {
  handle(req).then(
    (result) => send({ id: req.id, ok: true, result }),
    (err: unknown) =>
      send({ id: req.id, ok: false, error: (err as Error)?.message ?? String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
// A loader never outlives its orchestrator by more than the longest scenario.
setTimeout(() => process.exit(2), 30 * 60_000).unref();
