/**
 * Cross-node delivery latency, measured beside a chat run: pairs of probe clients in
 * conversations of their own, the sender on one node and the receiver on another, so every
 * delivery they time crosses nodes through Redis. The chat loaders' send→recv figure mixes
 * same-node and cross-node deliveries (they do not know which node a receiver is on); this one
 * has only cross-node ones.
 *
 * Through a load balancer the probe picks each client's node with HAProxy's stickiness cookie
 * (`wcr_node=<server name>` on the WebSocket upgrade, deploy/haproxy.cfg): the request still goes
 * through the balancer, and a cookie naming an UP server is honoured. Without one it connects
 * to the node's own URL.
 *
 * Load: `ratePerSec` sends spread over the pairs (a few per cent of the chat load), each timed
 * from the send to the receiver's `message:new`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents, Ack } from '../../src/protocol/events.js';
import type { Message } from '../../src/protocol/models.js';
import { newHistogram, summarize, type LatencySummary } from './hist.js';
import { Progress } from './report.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ProbeNode {
  /** HAProxy server (and cookie) name, e.g. `node-1`. */
  name: string;
  /** The node's own URL (direct runs). */
  url: string;
}

export interface CrossNodeProbeOptions {
  secret: string;
  nodes: ProbeNode[];
  /** The balancer's URL; unset: clients connect to the nodes directly. */
  lbUrl?: string;
  pairs: number;
  ratePerSec: number;
}

export interface CrossNodeResult extends LatencySummary {
  sent: number;
  /** Probe messages not received by the other node's client within the drain time. */
  lost: number;
  errors: string[];
}

async function token(secret: string, userId: string, organizationId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ organizationId, role: 'staff' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + 4 * 3600)
    .sign(new TextEncoder().encode(secret));
}

function emit<T>(socket: ClientSocket, event: string, payload: unknown): Promise<Ack<T>> {
  const s = socket.timeout(15_000) as unknown as {
    emitWithAck(e: string, p: unknown): Promise<Ack<T>>;
  };
  return s.emitWithAck(event, payload);
}

export class CrossNodeProbe {
  private readonly sockets: ClientSocket[] = [];
  private readonly pairs: Array<{ from: ClientSocket; conversationId: string }> = [];
  private readonly pending = new Map<string, { t0: number; measured: boolean }>();
  private readonly hist = newHistogram();
  private measuring = false;
  private timer?: NodeJS.Timeout;
  private windowTimer?: NodeJS.Timeout;
  private sent = 0;
  private lostAcked = 0;
  private readonly errors: string[] = [];

  private constructor(private readonly o: CrossNodeProbeOptions) {}

  static async start(o: CrossNodeProbeOptions): Promise<CrossNodeProbe> {
    if (o.nodes.length < 2) throw new Error('a cross-node probe needs two nodes');
    const p = new CrossNodeProbe(o);
    try {
      await p.setup();
    } catch (err) {
      p.close();
      throw err;
    }
    return p;
  }

  private async connect(node: ProbeNode, userId: string, org: string): Promise<ClientSocket> {
    const socket: ClientSocket = io(this.o.lbUrl ?? node.url, {
      path: '/socket.io',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: await token(this.o.secret, userId, org) },
      ...(this.o.lbUrl ? { extraHeaders: { cookie: `wcr_node=${node.name}` } } : {}),
    });
    this.sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('probe: connection:confirmed timeout')), 20_000);
      socket.once('connection:confirmed', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('connect_error', (err: Error) => {
        clearTimeout(t);
        reject(new Error(`probe: ${err.message}`));
      });
    });
    return socket;
  }

  private async setup(): Promise<void> {
    const org = `org-probe-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < this.o.pairs; i++) {
      // Alternate the direction: half the pairs send from the first node, half from the second.
      const a = this.o.nodes[i % this.o.nodes.length];
      const b = this.o.nodes[(i + 1) % this.o.nodes.length];
      const from = await this.connect(a, `probe-s${i}`, org);
      const to = await this.connect(b, `probe-r${i}`, org);
      const conversationId = randomUUID();
      const res = await emit(from, 'conversation:create', {
        conversationId,
        participantIds: [`probe-r${i}`],
      });
      if (!res.ok) throw new Error(`probe: conversation:create ${res.error.type}`);
      const joined = await emit(to, 'conversation:join', { conversationId, limit: 1 });
      if (!joined.ok) throw new Error(`probe: conversation:join ${joined.error.type}`);
      to.on('message:new', (payload: { message: Message; replayed?: boolean }) => {
        if (payload.replayed === true) return;
        const p = this.pending.get(payload.message.id);
        if (!p) return;
        this.pending.delete(payload.message.id);
        if (p.measured)
          this.hist.recordValue(Math.max(1, Math.round((performance.now() - p.t0) * 1000)));
      });
      this.pairs.push({ from, conversationId });
    }
  }

  /** Starts sending (the warm-up: deliveries are not recorded until `measure`). */
  run(): void {
    let next = 0;
    const intervalMs = 1000 / this.o.ratePerSec;
    this.timer = setInterval(() => {
      const pair = this.pairs[next++ % this.pairs.length];
      const messageId = randomUUID();
      this.pending.set(messageId, { t0: performance.now(), measured: this.measuring });
      this.sent++;
      emit<{ message: Message }>(pair.from, 'message:send', {
        messageId,
        conversationId: pair.conversationId,
        content: 'cross-node probe',
      }).then(
        (res) => {
          if (!res.ok && this.errors.length < 5) this.errors.push(`probe send: ${res.error.type}`);
          if (!res.ok) this.pending.delete(messageId);
        },
        (err: Error) => {
          this.pending.delete(messageId);
          if (this.errors.length < 5) this.errors.push(`probe send: ${err.message}`);
        },
      );
    }, intervalMs);
  }

  /** Records deliveries of messages sent from now for `windowMs` (the chat run's window). */
  measure(windowMs: number): void {
    if (this.measuring || this.windowTimer) return;
    this.hist.reset();
    this.measuring = true;
    this.windowTimer = setTimeout(() => (this.measuring = false), windowMs);
  }

  /**
   * A Progress that passes everything on and calls `measure(windowMs)` when runChat reports its
   * first `measuring` line (it does so right after the loaders started their window), so the
   * probe's window is the chat run's.
   */
  progressFor(inner: Progress, windowMs: number): Progress {
    const onLine = (text: string) => {
      if (text.includes('] measuring ')) this.measure(windowMs);
    };
    return new (class extends Progress {
      override update(text: string): void {
        onLine(text);
        inner.update(text);
      }
      override done(text?: string): void {
        inner.done(text);
      }
    })();
  }

  /** Stops recording, waits (bounded) for the last deliveries, and summarises. */
  async stop(drainMs = 5000): Promise<CrossNodeResult> {
    this.measuring = false;
    if (this.timer) clearInterval(this.timer);
    if (this.windowTimer) clearTimeout(this.windowTimer);
    const deadline = Date.now() + drainMs;
    while (this.pending.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    this.lostAcked = this.pending.size;
    const result = {
      ...summarize(this.hist),
      sent: this.sent,
      lost: this.lostAcked,
      errors: [...this.errors],
    };
    this.close();
    return result;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.windowTimer) clearTimeout(this.windowTimer);
    for (const s of this.sockets) s.disconnect();
  }
}
