import { coordinationPrefix, type RedisClient } from '../redis/redis.connections.js';
import { Resync } from '../redis/resync.js';
import { LUA_ALIVE, LUA_NOW } from '../redis/node-registry.js';
import type { ConnectionCounter } from './connection-counter.js';

/*
 * Keys (C = prefix + "{" + prefix + "}conn:", the coordination slot shared with the node registry,
 * see coordinationPrefix; every key a script touches is passed in KEYS):
 *   C<ns>:<user>   hash  socket id → node id (a slot counts while its node heartbeats)
 *   Cnode:<node>   set   "<ns>|<user>|<socket>" held by that node (write-back and reaping)
 */

/**
 * KEYS[1] the user's socket hash, KEYS[2] the node registry, KEYS[3] this node's set.
 * ARGV socketId, nodeId, max, ttlMs, member. Drops entries of dead nodes, then takes a slot if
 * fewer than `max` live ones remain.
 */
const ACQUIRE_SCRIPT = `${LUA_NOW}${LUA_ALIVE}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #entries, 2 do
  if alive(KEYS[2], entries[i + 1]) then live = live + 1 else redis.call('HDEL', KEYS[1], entries[i]) end
end
if live >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('SADD', KEYS[3], ARGV[5])
return 1
`;

const COUNT_SCRIPT = `${LUA_NOW}${LUA_ALIVE}
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #entries, 2 do
  if alive(KEYS[2], entries[i + 1]) then live = live + 1 end
end
return live
`;

/** KEYS the user's hash, this node's set; ARGV socketId, member. */
const RELEASE_SCRIPT = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`;

/** KEYS the user's hash, this node's set; ARGV socketId, nodeId, ttlMs, member. A live socket: no cap check. */
const RESTORE_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[4])
return 1
`;

/**
 * KEYS a dead node's set, then the user's hash of each member; ARGV nodeId, then the members
 * (read from the set just before). Drops those slots of that node; each member leaves the set.
 */
const REAP_SCRIPT = `
for j = 2, #ARGV do
  local member = ARGV[j]
  local ns, user, sid = string.match(member, '^([^|]+)|([^|]+)|(.+)$')
  local key = KEYS[j]
  if ns and redis.call('HGET', key, sid) == ARGV[1] then redis.call('HDEL', key, sid) end
  redis.call('SREM', KEYS[1], member)
end
return 1
`;

/** Slots per reap call (bounds one script's run). */
const REAP_BATCH = 200;

/** "ns|user|socket" → its parts (as REAP_SCRIPT's pattern reads it). */
function splitMember(member: string): [string, string, string] {
  const m = /^([^|]+)\|([^|]+)\|(.+)$/.exec(member);
  return m ? [m[1], m[2], m[3]] : ['', '', ''];
}

interface CounterCommands {
  wcrConnAcquire(
    key: string,
    nodes: string,
    nodeSet: string,
    socketId: string,
    nodeId: string,
    max: number,
    ttlMs: number,
    member: string,
  ): Promise<number>;
  wcrConnCount(key: string, nodes: string): Promise<number>;
  wcrConnRelease(key: string, nodeSet: string, socketId: string, member: string): Promise<number>;
  wcrConnRestore(
    key: string,
    nodeSet: string,
    socketId: string,
    nodeId: string,
    ttlMs: number,
    member: string,
  ): Promise<number>;
  wcrConnReap(numKeys: number, ...keysThenArgs: string[]): Promise<number>;
}

/**
 * Live sockets per user and namespace across nodes (WS_MAX_CONNECTIONS_PER_USER). Each entry
 * names the node holding the socket; entries of nodes whose heartbeat expired do not count and
 * are dropped on the next acquire, so a node killed with -9 frees its users' slots.
 * While Redis is unreachable the cap is not enforced across nodes (fail open): refusing every
 * handshake during an outage would take the whole service down with Redis.
 * The node keeps its own slots in memory too and makes Redis agree with them (`resync`) after a
 * write failed (a socket closed while Redis was down must not hold its slot for 24 h) or after
 * this node lapsed (frozen past the TTL and reaped: its live sockets must count again) (§12.8).
 */
export class RedisConnectionCounter implements ConnectionCounter {
  /** This node's slots, by their Redis member string `<ns>|<user>|<socket>`. */
  private readonly local = new Map<string, { ns: string; userId: string; socketId: string }>();
  private readonly sync = new Resync(() => this.resyncOnce());

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: {
      prefix: string;
      nodeId: string;
      nodesKey: string;
      entryTtlMs?: number;
      onError?: (err: Error) => void;
    },
  ) {
    const r = redis as unknown as Partial<CounterCommands>;
    if (!r.wcrConnAcquire)
      redis.defineCommand('wcrConnAcquire', { numberOfKeys: 3, lua: ACQUIRE_SCRIPT });
    if (!r.wcrConnCount)
      redis.defineCommand('wcrConnCount', { numberOfKeys: 2, lua: COUNT_SCRIPT });
    if (!r.wcrConnRelease)
      redis.defineCommand('wcrConnRelease', { numberOfKeys: 2, lua: RELEASE_SCRIPT });
    if (!r.wcrConnRestore)
      redis.defineCommand('wcrConnRestore', { numberOfKeys: 2, lua: RESTORE_SCRIPT });
    // Key count varies with the batch: the caller passes it first.
    if (!r.wcrConnReap) redis.defineCommand('wcrConnReap', { lua: REAP_SCRIPT });
  }

  /** `<prefix>{<prefix>}conn:<ns>:<org>:<user>` (`user` is the userKeyString, §12.1). */
  private key(ns: string, user: string): string {
    return `${coordinationPrefix(this.opts.prefix)}conn:${ns}:${user}`;
  }

  private nodeSet(nodeId = this.opts.nodeId): string {
    return `${coordinationPrefix(this.opts.prefix)}conn:node:${nodeId}`;
  }

  private get cmd(): CounterCommands {
    return this.redis as unknown as CounterCommands;
  }

  private get ttl(): number {
    return this.opts.entryTtlMs ?? 24 * 3600 * 1000;
  }

  async tryAcquire(
    namespace: string,
    userId: string,
    socketId: string,
    max: number,
  ): Promise<boolean> {
    try {
      const r = await this.cmd.wcrConnAcquire(
        this.key(namespace, userId),
        this.opts.nodesKey,
        this.nodeSet(),
        socketId,
        this.opts.nodeId,
        max,
        this.ttl,
        `${namespace}|${userId}|${socketId}`,
      );
      if (r !== 1) return false;
    } catch (err) {
      this.sync.markDirty();
      this.opts.onError?.(err as Error);
    }
    this.local.set(`${namespace}|${userId}|${socketId}`, { ns: namespace, userId, socketId });
    return true;
  }

  async release(namespace: string, userId: string, socketId: string): Promise<void> {
    const member = `${namespace}|${userId}|${socketId}`;
    if (!this.local.delete(member)) return;
    try {
      await this.cmd.wcrConnRelease(this.key(namespace, userId), this.nodeSet(), socketId, member);
    } catch (err) {
      // Gone locally; resync() removes it from Redis once Redis answers again.
      this.sync.markDirty();
      this.opts.onError?.(err as Error);
    }
  }

  count(namespace: string, userId: string): Promise<number> {
    return this.cmd.wcrConnCount(this.key(namespace, userId), this.opts.nodesKey);
  }

  /** Drops the slots of dead nodes (called once per dead node, on the node that claimed it). */
  async reapNodes(nodeIds: string[]): Promise<void> {
    for (const nodeId of nodeIds) {
      const nodeSet = this.nodeSet(nodeId);
      const members = await this.redis.smembers(nodeSet);
      for (let i = 0; i < members.length; i += REAP_BATCH) {
        const batch = members.slice(i, i + REAP_BATCH);
        await this.cmd.wcrConnReap(
          1 + batch.length,
          nodeSet,
          ...batch.map((m) => {
            const [ns, user] = splitMember(m);
            return this.key(ns, user);
          }),
          nodeId,
          ...batch,
        );
      }
    }
  }

  /** A write failed: Redis may disagree with this node's slots until the next resync. */
  get needsResync(): boolean {
    return this.sync.needed;
  }

  /** Makes Redis hold exactly this node's live slots. Coalesced like the presence resync. */
  resync(): Promise<void> {
    return this.sync.run();
  }

  private async resyncOnce(): Promise<void> {
    const members = await this.redis.smembers(this.nodeSet());
    for (const member of members) {
      const [ns, userId, socketId] = splitMember(member);
      if (!this.local.has(member))
        await this.cmd.wcrConnRelease(this.key(ns, userId), this.nodeSet(), socketId, member);
    }
    for (const [member, { ns, userId, socketId }] of [...this.local]) {
      // Still live when sent (a release after this is sent behind it on the same connection).
      if (!this.local.has(member)) continue;
      await this.cmd.wcrConnRestore(
        this.key(ns, userId),
        this.nodeSet(),
        socketId,
        this.opts.nodeId,
        this.ttl,
        member,
      );
    }
  }

  close(): Promise<void> {
    this.local.clear();
    return Promise.resolve();
  }
}
