import { randomBytes } from 'node:crypto';
import { coordinationPrefix, type RedisClient } from './redis.connections.js';

/**
 * Live nodes of the cluster: one sorted set `<prefix>{<prefix>}nodes`, member = node id, score = the
 * Redis-server time (ms) until which the node counts as alive. Each node refreshes its own entry
 * every `heartbeatMs`; an entry whose score is in the past belongs to a dead node. Per-user
 * entries (sockets, presence sessions) store the node id and are only counted while that node
 * is alive, so a node killed with -9 frees its users' slots and sessions within `ttlMs`.
 */
/** Returns 1 when this node's entry was missing (reaped, or Redis lost it) or had lapsed. */
const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if (not before) or tonumber(before) < now then return 1 end
return 0
`;

/**
 * KEYS nodes; ARGV base id, own id. Claims the entries of earlier lives of this NODE_ID
 * ("<base>#<8 hex>", other than our own): their process is gone, whatever their heartbeat says.
 */
const CLAIM_PREVIOUS_SCRIPT = `
local out = {}
local head = ARGV[1] .. '#'
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[2] and #id == #head + 8 and string.sub(id, 1, #head) == head
    and string.match(string.sub(id, #head + 1), '^%x+$') then
    redis.call('ZREM', KEYS[1], id)
    table.insert(out, id)
  end
end
return out
`;

/**
 * A node's identity in Redis: NODE_ID plus a random instance id per process start, so a node
 * restarted at once with the same NODE_ID (kill -9, back in 5 s) never inherits, and so never
 * keeps alive, the presence sessions and connection slots of its previous life (#12 point 1).
 */
export function nodeInstanceId(nodeId: string): string {
  return `${nodeId}#${randomBytes(4).toString('hex')}`;
}

/** The NODE_ID part of an instance id. */
export function baseNodeId(instanceId: string): string {
  const m = /^(.*)#[0-9a-f]{8}$/.exec(instanceId);
  return m ? m[1] : instanceId;
}

/** Claims up to ARGV[1] dead nodes: ZREM succeeds on exactly one caller, so each dead node is reaped once. */
const CLAIM_DEAD_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(dead) do redis.call('ZREM', KEYS[1], id) end
return dead
`;

/** Ids of the nodes whose heartbeat holds now (Redis clock). */
const LIVE_NODES_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
`;

/**
 * Shared Lua snippet: `alive(nodesKey, nodeId, now)` — true while the node's heartbeat holds.
 * Scripts that count per-user entries include it.
 */
export const LUA_NOW = `
local __t = redis.call('TIME')
local now = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)
`;
export const LUA_ALIVE = `
local function alive(nodesKey, nodeId)
  local s = redis.call('ZSCORE', nodesKey, nodeId)
  return s and tonumber(s) >= now
end
`;

interface RegistryCommands {
  wcrHeartbeat(key: string, nodeId: string, ttlMs: number): Promise<number>;
  wcrClaimDead(key: string, limit: number): Promise<string[]>;
  wcrLiveNodes(key: string): Promise<string[]>;
  wcrClaimPrevious(key: string, base: string, own: string): Promise<string[]>;
}

/**
 * After each successful heartbeat: `lapsed` when this node had been dropped from the registry or
 * its heartbeat had expired (frozen past the TTL, or Redis restarted empty) — other nodes then
 * reaped or stopped counting its sessions, which must be written back.
 */
export type BeatListener = (beat: { lapsed: boolean }) => Promise<void> | void;

export interface NodeRegistryOptions {
  prefix: string;
  nodeId: string;
  ttlMs: number;
  heartbeatMs: number;
  /** Called with node ids this node claimed as dead (each dead node goes to exactly one survivor). */
  onDeadNodes?: (nodeIds: string[]) => Promise<void> | void;
  onError?: (err: Error) => void;
}

export class NodeRegistry {
  private timer?: NodeJS.Timeout;
  private readonly listeners: Array<(ids: string[]) => Promise<void> | void> = [];
  private readonly beatListeners: BeatListener[] = [];
  private stopped = false;
  private beats = 0;

  constructor(
    private readonly redis: RedisClient,
    readonly options: NodeRegistryOptions,
  ) {
    const r = redis as unknown as Partial<RegistryCommands>;
    if (!r.wcrHeartbeat)
      redis.defineCommand('wcrHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    if (!r.wcrClaimDead)
      redis.defineCommand('wcrClaimDead', { numberOfKeys: 1, lua: CLAIM_DEAD_SCRIPT });
    if (!r.wcrLiveNodes)
      redis.defineCommand('wcrLiveNodes', { numberOfKeys: 1, lua: LIVE_NODES_SCRIPT });
    if (!r.wcrClaimPrevious)
      redis.defineCommand('wcrClaimPrevious', { numberOfKeys: 1, lua: CLAIM_PREVIOUS_SCRIPT });
    if (options.onDeadNodes) this.listeners.push(options.onDeadNodes);
  }

  /** `<prefix>{<prefix>}nodes`: in the coordination slot with the keys whose scripts read it. */
  get key(): string {
    return coordinationPrefix(this.options.prefix) + 'nodes';
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  private get cmd(): RegistryCommands {
    return this.redis as unknown as RegistryCommands;
  }

  /** Subscribers (presence, counters) that clean up after dead nodes. */
  onDeadNodes(listener: (ids: string[]) => Promise<void> | void): void {
    this.listeners.push(listener);
  }

  /** Called after every successful heartbeat (see BeatListener). */
  onBeat(listener: BeatListener): void {
    this.beatListeners.push(listener);
  }

  /**
   * Registers this node and keeps it alive; also reaps dead nodes on every beat. A node started
   * with the same NODE_ID as an earlier process reaps that process's entries at once.
   */
  async start(): Promise<string[]> {
    await this.beat().catch((err: Error) => this.options.onError?.(err));
    const previous = await this.reapPreviousLives().catch((err: Error) => {
      this.options.onError?.(err);
      return [];
    });
    this.timer = setInterval(() => {
      void this.beat()
        .then(() => this.reap())
        .catch((err: Error) => this.options.onError?.(err));
    }, this.options.heartbeatMs);
    this.timer.unref();
    return previous;
  }

  async beat(): Promise<void> {
    if (this.stopped) return;
    const r = await this.cmd.wcrHeartbeat(this.key, this.options.nodeId, this.options.ttlMs);
    // The very first beat registers the node: a missing entry is expected then.
    const lapsed = r === 1 && this.beats > 0;
    this.beats++;
    // Not awaited: a long write-back never delays the next heartbeat.
    for (const l of this.beatListeners) {
      void Promise.resolve()
        .then(() => l({ lapsed }))
        .catch((err: Error) => this.options.onError?.(err));
    }
  }

  /** Earlier lives of this NODE_ID (see nodeInstanceId): claimed as dead and cleaned up now. */
  async reapPreviousLives(): Promise<string[]> {
    const own = this.options.nodeId;
    const base = baseNodeId(own);
    if (base === own) return [];
    const previous = await this.cmd.wcrClaimPrevious(this.key, base, own);
    if (previous.length > 0) {
      for (const l of this.listeners) await l(previous);
    }
    return previous;
  }

  /** Ids of the live nodes (this one included while its heartbeat holds). */
  liveNodes(): Promise<string[]> {
    return this.cmd.wcrLiveNodes(this.key);
  }

  /** Claims dead nodes and lets the listeners clean up after them. */
  async reap(): Promise<string[]> {
    const dead = await this.cmd.wcrClaimDead(this.key, 10);
    if (dead.length > 0) {
      for (const l of this.listeners) await l(dead);
    }
    return dead;
  }

  /**
   * Graceful stop: no more heartbeats, and the entry is left to expire after `graceMs` (not
   * removed), so entries of users who reconnect elsewhere meanwhile never look "gone" at once.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.cmd.wcrHeartbeat(this.key, this.options.nodeId, graceMs).catch(() => undefined);
  }
}
