import { randomUUID } from 'node:crypto';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient } from '../redis/redis.connections.js';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RedisService } from '../redis/redis.service.js';
import type { UserKey } from '../protocol/user-key.js';

/** A revocation as nodes tell each other: the user and the revocation second. */
export interface RevocationNotice extends UserKey {
  sec: number;
}

export interface BroadcastOutcome {
  /** Other nodes that confirmed (they refuse the tokens and dropped their sockets). */
  confirmed: string[];
  /** Live nodes that did not confirm in time (frozen, partitioned, or Redis unreachable). */
  unreachable: string[];
  /** Sockets the confirming nodes disconnected. */
  disconnected: number;
}

interface Request extends RevocationNotice {
  id: string;
  from: string;
}

interface Reply {
  id: string;
  node: string;
  disconnected: number;
}

interface Pending {
  expected: Set<string>;
  replies: Map<string, number>;
  done: () => void;
}

/** Re-sends of a revocation to nodes that did not confirm it (ms after the answer). */
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000, 30_000, 60_000];

/** Sanity bound on a request message (ids are ≤ 64 chars). */
const MAX_MESSAGE_BYTES = 1024;

/**
 * Node-to-node revocation (§12.2): a request/reply over Redis pub/sub. The revoking node publishes
 * the revocation on `<prefix>revocation`; every other node remembers it, drops its covered sockets
 * and replies on `<prefix>revocation:reply:<origin node>`. The origin waits for every live node of
 * the node registry (the same heartbeats that drive presence and the connection cap), at most the
 * given time; the silent ones are reported unreachable.
 *
 * Why not `serverSideEmitWithAck` of the Socket.IO adapter: its wait is the adapter-wide
 * `requestsTimeout` (3 s for pub/sub, 5 s for streams, shared with fetchSockets), it reports only
 * a count inside an error message, and which nodes it waits for differs by adapter (PUBSUB NUMSUB
 * vs. the streams adapter's own heartbeats). This channel behaves the same with either adapter
 * and names the nodes, so a retry can tell when every one has confirmed.
 *
 * Without Redis (one node) the bus is off: there is nobody to tell.
 */
@Injectable()
export class RevocationBus implements OnApplicationShutdown {
  private sub?: RedisClient;
  private handler?: (notice: RevocationNotice) => number;
  private readonly pending = new Map<string, Pending>();
  private lastKnownNodes: string[] = [];
  private closed = false;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly redis: RedisService,
    @InjectPinoLogger('revocation') private readonly logger: PinoLogger,
  ) {}

  get enabled(): boolean {
    return this.redis.connections !== null && this.redis.registry !== null;
  }

  private get nodeId(): string {
    return this.redis.registry!.nodeId;
  }

  private get requestChannel(): string {
    return this.redis.key('revocation');
  }

  private replyChannel(node: string): string {
    return this.redis.key('revocation', 'reply', node);
  }

  /**
   * Subscribes (bounded wait: a node whose subscription is not up yet is simply reported
   * unreachable by a revoking node, and catches up through its periodic re-read).
   */
  async start(handler: (notice: RevocationNotice) => number, timeoutMs = 3000): Promise<void> {
    this.handler = handler;
    if (!this.enabled) return;
    const sub = this.redis.connections!.create('revocation-sub', { maxRetriesPerRequest: null });
    this.sub = sub;
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) =>
      this.onMessage(channel.toString(), message),
    );
    const subscribed = sub
      .subscribe(this.requestChannel, this.replyChannel(this.nodeId))
      .catch((err: Error) =>
        this.logger.warn({ errorName: err.name }, 'revocation bus: subscribe failed'),
      );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([subscribed, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private onMessage(channel: string, raw: Buffer): void {
    if (raw.byteLength > MAX_MESSAGE_BYTES) return;
    let msg: unknown;
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      return;
    }
    if (channel === this.requestChannel) this.onRequest(msg as Request);
    else this.onReply(msg as Reply);
  }

  private onRequest(req: Request): void {
    if (
      !req ||
      typeof req.id !== 'string' ||
      typeof req.from !== 'string' ||
      typeof req.organizationId !== 'string' ||
      typeof req.userId !== 'string' ||
      typeof req.sec !== 'number' ||
      req.from === this.nodeId ||
      !this.handler
    )
      return;
    let disconnected = 0;
    try {
      disconnected = this.handler({
        organizationId: req.organizationId,
        userId: req.userId,
        sec: req.sec,
      });
    } catch (err) {
      // Not confirmed: the origin counts this node unreachable and retries.
      this.logger.error({ errorName: (err as Error)?.name }, 'revocation bus: local drop failed');
      return;
    }
    const reply: Reply = { id: req.id, node: this.nodeId, disconnected };
    this.redis
      .connections!.command.publish(this.replyChannel(req.from), JSON.stringify(reply))
      .catch((err: Error) => this.redis.failure('revocation-reply', err));
  }

  private onReply(reply: Reply): void {
    if (!reply || typeof reply.id !== 'string' || typeof reply.node !== 'string') return;
    const p = this.pending.get(reply.id);
    if (!p) return;
    p.replies.set(reply.node, Number.isFinite(reply.disconnected) ? reply.disconnected : 0);
    if ([...p.expected].every((n) => p.replies.has(n))) p.done();
  }

  /** The live nodes other than this one (the last known list while Redis does not answer). */
  private async otherNodes(): Promise<string[]> {
    try {
      this.lastKnownNodes = (await this.redis.registry!.liveNodes()).filter(
        (n) => n !== this.nodeId,
      );
    } catch (err) {
      this.redis.failure('revocation-nodes', err as Error);
    }
    return this.lastKnownNodes;
  }

  /**
   * Tells the other live nodes (or only `only`, for a retry) and waits for their confirmations,
   * at most `timeoutMs`. Never throws.
   */
  async broadcast(
    notice: RevocationNotice,
    timeoutMs: number,
    only?: readonly string[],
  ): Promise<BroadcastOutcome> {
    if (!this.enabled || this.closed) return { confirmed: [], unreachable: [], disconnected: 0 };
    let nodes = await this.otherNodes();
    if (only) nodes = nodes.filter((n) => only.includes(n));
    const id = randomUUID();
    const expected = new Set(nodes);
    const replies = new Map<string, number>();
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve();
      };
      this.pending.set(id, { expected, replies, done });
      timer = setTimeout(done, timeoutMs);
    });
    const req: Request = { id, from: this.nodeId, ...notice };
    try {
      await this.redis.connections!.command.publish(this.requestChannel, JSON.stringify(req));
      if (expected.size === 0) this.pending.get(id)?.done();
    } catch (err) {
      this.redis.failure('revocation-publish', err as Error);
      this.pending.get(id)?.done();
    }
    await finished;
    let disconnected = 0;
    for (const n of replies.values()) disconnected += n;
    return {
      confirmed: [...replies.keys()],
      unreachable: [...expected].filter((n) => !replies.has(n)),
      disconnected,
    };
  }

  /**
   * Sends the revocation again, in the background, to the nodes that did not confirm, until
   * they do or die (`unreachable` holds only nodes still alive in the registry).
   */
  retry(notice: RevocationNotice, nodes: string[], timeoutMs: number, attempt = 0): void {
    if (this.closed || attempt >= RETRY_DELAYS_MS.length) return;
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      void this.broadcast(notice, timeoutMs, nodes).then((outcome) => {
        if (outcome.confirmed.length > 0)
          this.logger.info(
            {
              organizationId: notice.organizationId,
              userId: notice.userId,
              nodes: outcome.confirmed.length,
              disconnected: outcome.disconnected,
            },
            'revocation confirmed late',
          );
        if (outcome.unreachable.length > 0)
          this.retry(notice, outcome.unreachable, timeoutMs, attempt + 1);
      });
    }, RETRY_DELAYS_MS[attempt]);
    timer.unref();
    this.retries.add(timer);
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    for (const p of [...this.pending.values()]) p.done();
    this.sub?.disconnect();
  }
}
