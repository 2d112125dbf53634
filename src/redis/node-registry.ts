import type { Redis } from 'ioredis';

/**
 * Live nodes of the cluster: one sorted set `<prefix>nodes`, member = node id, score = the
 * Redis-server time (ms) until which the node counts as alive. Each node refreshes its own entry
 * every `heartbeatMs`; an entry whose score is in the past belongs to a dead node. Per-user
 * entries (sockets, presence sessions) store the node id and are only counted while that node
 * is alive, so a node killed with -9 frees its users' slots and sessions within `ttlMs`.
 */
const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return now
`;

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
}

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
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    readonly options: NodeRegistryOptions,
  ) {
    const r = redis as unknown as Partial<RegistryCommands>;
    if (!r.wcrHeartbeat)
      redis.defineCommand('wcrHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    if (!r.wcrClaimDead)
      redis.defineCommand('wcrClaimDead', { numberOfKeys: 1, lua: CLAIM_DEAD_SCRIPT });
    if (!r.wcrLiveNodes)
      redis.defineCommand('wcrLiveNodes', { numberOfKeys: 1, lua: LIVE_NODES_SCRIPT });
    if (options.onDeadNodes) this.listeners.push(options.onDeadNodes);
  }

  get key(): string {
    return this.options.prefix + 'nodes';
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

  /** Registers this node and keeps it alive; also reaps dead nodes on every beat. */
  async start(): Promise<void> {
    await this.beat().catch((err: Error) => this.options.onError?.(err));
    this.timer = setInterval(() => {
      void this.beat()
        .then(() => this.reap())
        .catch((err: Error) => this.options.onError?.(err));
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    if (this.stopped) return;
    await this.cmd.wcrHeartbeat(this.key, this.options.nodeId, this.options.ttlMs);
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
