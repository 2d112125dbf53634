import type { Redis } from 'ioredis';
import { AppError } from '../protocol/errors.js';
import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import { LUA_ALIVE, LUA_NOW } from '../redis/node-registry.js';
import type { PresenceStore } from './presence.store.js';

/*
 * Keys (P = prefix + "presence:"):
 *   P sess:<org>:<user>   hash  session id → node id (a session counts while its node's heartbeat holds)
 *   P user:<org>:<user>   hash  status, lastSeenAt (ISO); kept 30 days
 *   P org:<org>           set   users that may have live sessions (for listActive)
 *   P node:<node>         set   "<org>|<user>|<session>" held by that node (for reaping a dead node)
 *   <prefix>nodes         zset  node id → heartbeat deadline (NodeRegistry)
 * Every decision that spans nodes (first join, last leave, reaping) is one Lua script. Scripts build
 * per-user key names from ARGV (standalone Redis / Sentinel; not Redis Cluster).
 */

const COUNT_LIVE = `
local function countLive(sessKey, nodesKey)
  local entries = redis.call('HGETALL', sessKey)
  local live = 0
  for i = 1, #entries, 2 do
    if alive(nodesKey, entries[i + 1]) then live = live + 1 else redis.call('HDEL', sessKey, entries[i]) end
  end
  return live
end
`;

const HEAD = LUA_NOW + LUA_ALIVE + COUNT_LIVE;

/** KEYS sess, user, org, nodeSet, nodes; ARGV sid, nodeId, userId, atIso, userTtlMs, member. Returns 1 when first. */
const ADD = `${HEAD}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local live = countLive(KEYS[1], KEYS[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[3])
if live == 0 then redis.call('HSET', KEYS[2], 'status', 'online') end
redis.call('HSET', KEYS[2], 'lastSeenAt', ARGV[4])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
if live == 0 then return 1 end
return 0
`;

/** KEYS sess, user, org, nodeSet, nodes; ARGV sid, userId, atIso, userTtlMs, member. Returns 1 when last. */
const REMOVE = `${HEAD}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[4], ARGV[5])
redis.call('HSET', KEYS[2], 'lastSeenAt', ARGV[3])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if countLive(KEYS[1], KEYS[5]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  return 1
end
return 0
`;

/** KEYS nodes; ARGV prefix, org, userIds…  Returns per user: status ('' unknown), lastSeenAt ('' none), live count. */
const GET = `${HEAD}
local out = {}
for i = 3, #ARGV do
  local base = ARGV[1] .. ARGV[2] .. ':' .. ARGV[i]
  local h = redis.call('HMGET', ARGV[1] .. 'user:' .. ARGV[2] .. ':' .. ARGV[i], 'status', 'lastSeenAt')
  local live = countLive(ARGV[1] .. 'sess:' .. ARGV[2] .. ':' .. ARGV[i], KEYS[1])
  table.insert(out, h[1] or '')
  table.insert(out, h[2] or '')
  table.insert(out, live)
end
return out
`;

/** KEYS org, nodes; ARGV prefix, org. Returns userId, status, lastSeenAt for every visible user; drops users without live sessions. */
const LIST = `${HEAD}
local out = {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local live = countLive(ARGV[1] .. 'sess:' .. ARGV[2] .. ':' .. user, KEYS[2])
  if live == 0 then
    redis.call('SREM', KEYS[1], user)
  else
    local h = redis.call('HMGET', ARGV[1] .. 'user:' .. ARGV[2] .. ':' .. user, 'status', 'lastSeenAt')
    local status = h[1] or 'online'
    if status ~= 'offline' then
      table.insert(out, user)
      table.insert(out, status)
      table.insert(out, h[2] or '')
    end
  end
end
return out
`;

/**
 * KEYS nodeSet, nodes; ARGV prefix, nowIso. Drops every session a dead node held; returns
 * org, user, lastSeenAt for each user left without live sessions who was visible (not "appear offline").
 */
const REAP = `${HEAD}
local out = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local org, user, sid = string.match(member, '^([^|]+)|([^|]+)|(.+)$')
  if org then
    local sessKey = ARGV[1] .. 'sess:' .. org .. ':' .. user
    if redis.call('HDEL', sessKey, sid) == 1 and countLive(sessKey, KEYS[2]) == 0 then
      local userKey = ARGV[1] .. 'user:' .. org .. ':' .. user
      redis.call('SREM', ARGV[1] .. 'org:' .. org, user)
      local status = redis.call('HGET', userKey, 'status')
      redis.call('HSET', userKey, 'lastSeenAt', ARGV[2])
      if status ~= 'offline' then
        table.insert(out, org)
        table.insert(out, user)
        table.insert(out, ARGV[2])
      end
    end
  end
end
redis.call('DEL', KEYS[1])
return out
`;

interface PresenceCommands {
  wcrPresAdd(...a: Array<string | number>): Promise<number>;
  wcrPresRemove(...a: Array<string | number>): Promise<number>;
  wcrPresGet(...a: Array<string | number>): Promise<Array<string | number>>;
  wcrPresList(...a: Array<string | number>): Promise<string[]>;
  wcrPresReap(...a: Array<string | number>): Promise<string[]>;
}

export interface RedisPresenceStoreOptions {
  /** Key prefix (config.redis.keyPrefix). */
  prefix: string;
  nodeId: string;
  /** The node registry's sorted set. */
  nodesKey: string;
  userTtlMs?: number;
  onError?: (err: Error) => void;
}

type ExpiredListener = (organizationId: string, entry: PresenceEntry) => void;

/**
 * Presence across nodes. Sessions are per-node entries that count only while their node
 * heartbeats (NodeRegistry), so a node killed with -9 does not leave its users online: the
 * survivor that reaps it reports who went offline (`onExpired`) for `presence:changed`.
 * Each node also keeps its own sessions in memory, so after a Redis outage (or a restarted,
 * empty Redis) it writes them back (`resync`) and presence is whole again.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly p: string;
  private readonly local = new Map<string, { organizationId: string; userId: string }>();
  private readonly expiredListeners: ExpiredListener[] = [];
  private handedOff = false;

  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisPresenceStoreOptions,
  ) {
    this.p = `${opts.prefix}presence:`;
    const r = redis as unknown as Partial<PresenceCommands>;
    if (!r.wcrPresAdd) {
      redis.defineCommand('wcrPresAdd', { numberOfKeys: 5, lua: ADD });
      redis.defineCommand('wcrPresRemove', { numberOfKeys: 5, lua: REMOVE });
      redis.defineCommand('wcrPresGet', { numberOfKeys: 1, lua: GET });
      redis.defineCommand('wcrPresList', { numberOfKeys: 2, lua: LIST });
      redis.defineCommand('wcrPresReap', { numberOfKeys: 2, lua: REAP });
    }
  }

  private get cmd(): PresenceCommands {
    return this.redis as unknown as PresenceCommands;
  }

  private keys(organizationId: string, userId: string, nodeId = this.opts.nodeId): string[] {
    return [
      `${this.p}sess:${organizationId}:${userId}`,
      `${this.p}user:${organizationId}:${userId}`,
      `${this.p}org:${organizationId}`,
      `${this.p}node:${nodeId}`,
      this.opts.nodesKey,
    ];
  }

  private get userTtl(): number {
    return this.opts.userTtlMs ?? 30 * 24 * 3600 * 1000;
  }

  async addSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ first: boolean }> {
    this.local.set(sessionId, { organizationId, userId });
    try {
      const first = await this.cmd.wcrPresAdd(
        ...this.keys(organizationId, userId),
        sessionId,
        this.opts.nodeId,
        userId,
        at.toISOString(),
        this.userTtl,
        `${organizationId}|${userId}|${sessionId}`,
      );
      return { first: first === 1 };
    } catch (err) {
      // Redis unreachable: the session is kept locally and written back by resync().
      this.opts.onError?.(err as Error);
      return { first: false };
    }
  }

  async removeSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ last: boolean }> {
    this.local.delete(sessionId);
    // After handOff (graceful stop) sessions stay until this node's heartbeat lapses: users who
    // reconnect elsewhere in the meantime never flap offline; the rest are reaped by a survivor.
    if (this.handedOff) return { last: false };
    try {
      const last = await this.cmd.wcrPresRemove(
        ...this.keys(organizationId, userId),
        sessionId,
        userId,
        at.toISOString(),
        this.userTtl,
        `${organizationId}|${userId}|${sessionId}`,
      );
      return { last: last === 1 };
    } catch (err) {
      this.opts.onError?.(err as Error);
      return { last: false };
    }
  }

  async setStatus(
    organizationId: string,
    userId: string,
    status: PresenceStatus,
    at: Date,
  ): Promise<void> {
    const key = `${this.p}user:${organizationId}:${userId}`;
    try {
      await this.redis
        .multi()
        .hset(key, 'status', status, 'lastSeenAt', at.toISOString())
        .pexpire(key, this.userTtl)
        .exec();
    } catch {
      throw AppError.unavailable('Presence is temporarily unavailable');
    }
  }

  async get(organizationId: string, userIds: string[]): Promise<PresenceEntry[]> {
    if (userIds.length === 0) return [];
    let flat: Array<string | number>;
    try {
      flat = await this.cmd.wcrPresGet(this.opts.nodesKey, this.p, organizationId, ...userIds);
    } catch {
      throw AppError.unavailable('Presence is temporarily unavailable');
    }
    return userIds.map((userId, i) => {
      const status = String(flat[i * 3]);
      const lastSeenAt = String(flat[i * 3 + 1]);
      const live = Number(flat[i * 3 + 2]);
      return {
        userId,
        status: live > 0 ? ((status || 'online') as PresenceStatus) : 'offline',
        lastSeenAt: lastSeenAt || null,
      };
    });
  }

  async listActive(organizationId: string): Promise<PresenceEntry[]> {
    let flat: string[];
    try {
      flat = await this.cmd.wcrPresList(
        `${this.p}org:${organizationId}`,
        this.opts.nodesKey,
        this.p,
        organizationId,
      );
    } catch {
      throw AppError.unavailable('Presence is temporarily unavailable');
    }
    const out: PresenceEntry[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      out.push({
        userId: flat[i],
        status: flat[i + 1] as PresenceStatus,
        lastSeenAt: flat[i + 2] || null,
      });
    }
    return out;
  }

  /** Listeners for users that went offline because their node died (reaped by this node). */
  onExpired(listener: ExpiredListener): void {
    this.expiredListeners.push(listener);
  }

  /** Drops the sessions of dead nodes (called once per dead node, on the node that claimed it). */
  async reapNodes(nodeIds: string[]): Promise<number> {
    let n = 0;
    for (const nodeId of nodeIds) {
      const flat = await this.cmd.wcrPresReap(
        `${this.p}node:${nodeId}`,
        this.opts.nodesKey,
        this.p,
        new Date().toISOString(),
      );
      for (let i = 0; i < flat.length; i += 3) {
        n++;
        const entry: PresenceEntry = {
          userId: flat[i + 1],
          status: 'offline',
          lastSeenAt: flat[i + 2],
        };
        for (const l of this.expiredListeners) l(flat[i], entry);
      }
    }
    return n;
  }

  /**
   * Writes this node's live sessions back after Redis was unreachable or restarted empty, and
   * drops entries of sessions that ended meanwhile. Presence changes during the outage are not
   * announced after the fact; queries are right again once this ran.
   */
  async resync(): Promise<void> {
    const nodeSet = `${this.p}node:${this.opts.nodeId}`;
    const members = await this.redis.smembers(nodeSet);
    const now = new Date();
    for (const member of members) {
      const [organizationId, userId, sessionId] = member.split('|');
      if (!this.local.has(sessionId)) {
        await this.cmd.wcrPresRemove(
          ...this.keys(organizationId, userId),
          sessionId,
          userId,
          now.toISOString(),
          this.userTtl,
          member,
        );
      }
    }
    for (const [sessionId, { organizationId, userId }] of this.local) {
      await this.cmd.wcrPresAdd(
        ...this.keys(organizationId, userId),
        sessionId,
        this.opts.nodeId,
        userId,
        now.toISOString(),
        this.userTtl,
        `${organizationId}|${userId}|${sessionId}`,
      );
    }
  }

  /** Graceful stop: leave this node's sessions to its heartbeat expiry (see removeSession). */
  handOff(): void {
    this.handedOff = true;
  }

  close(): Promise<void> {
    this.local.clear();
    return Promise.resolve();
  }
}
