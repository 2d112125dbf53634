import type { Redis } from 'ioredis';
import { AppError } from '../protocol/errors.js';
import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import { LUA_ALIVE, LUA_NOW } from '../redis/node-registry.js';
import type { PresenceStore } from './presence.store.js';

/*
 * Keys (P = prefix + "presence:"):
 *   P sess:<org>:<user>   hash  session id → node id (a session counts while its node's heartbeat holds)
 *   P user:<org>:<user>   hash  status, lastSeenAt (ISO), private ('1' for a parent, §12.5); kept 30 days
 *   P org:<org>           set   users that may have live sessions (for listActive)
 *   P node:<node>         set   "<org>|<user>|<session>" held by that node (for reaping a dead node)
 *   <prefix>nodes         zset  node id → heartbeat deadline (NodeRegistry)
 *   P events              channel  every visible change, published by the script that decided it
 * Every decision that spans nodes (first join, last leave, reaping) is one Lua script. Scripts build
 * per-user key names from ARGV (standalone Redis / Sentinel; not Redis Cluster).
 *
 * Ordering (#12 point 11): a change used to be emitted by the node that computed it, through the
 * adapter, after the script returned; an `offline` computed first on node A could reach clients
 * after the `online` of a new session on node B (both publish on their own schedule), leaving
 * the user shown offline while connected. Now the script PUBLISHes the change itself, so every
 * node receives the changes in the order Redis applied them and emits them to its own sockets.
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

const ANNOUNCE = `
local function announce(channel, org, user, status, at, userKey)
  local p = redis.call('HGET', userKey, 'private') == '1'
  redis.call('PUBLISH', channel, cjson.encode({ o = org, u = user, s = status, t = at, p = p }))
end
`;

const HEAD = LUA_NOW + LUA_ALIVE + COUNT_LIVE + ANNOUNCE;

/** KEYS sess, user, org, nodeSet, nodes, events; ARGV sid, nodeId, userId, atIso, userTtlMs, member, orgId, private. Returns 1 when first. */
const ADD = `${HEAD}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local live = countLive(KEYS[1], KEYS[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[3])
if live == 0 then redis.call('HSET', KEYS[2], 'status', 'online') end
redis.call('HSET', KEYS[2], 'lastSeenAt', ARGV[4], 'private', ARGV[8])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
if live == 0 then
  announce(KEYS[6], ARGV[7], ARGV[3], 'online', ARGV[4], KEYS[2])
  return 1
end
return 0
`;

/** KEYS sess, user, org, nodeSet, nodes, events; ARGV sid, userId, atIso, userTtlMs, member, orgId. Returns 1 when last. */
const REMOVE = `${HEAD}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[4], ARGV[5])
redis.call('HSET', KEYS[2], 'lastSeenAt', ARGV[3])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if countLive(KEYS[1], KEYS[5]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  if redis.call('HGET', KEYS[2], 'status') ~= 'offline' then
    announce(KEYS[6], ARGV[6], ARGV[2], 'offline', ARGV[3], KEYS[2])
  end
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
 * KEYS nodeSet, nodes, events; ARGV prefix, nowIso. Drops every session a dead node held; returns
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
        announce(KEYS[3], org, user, 'offline', ARGV[2], userKey)
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

/**
 * KEYS sess, user, nodes, events; ARGV status, atIso, userTtlMs, orgId, userId. Sets the chosen
 * status; announces it when the visible status changes (the user has a live session).
 */
const SET_STATUS = `${HEAD}
local before = redis.call('HGET', KEYS[2], 'status') or 'online'
local live = countLive(KEYS[1], KEYS[3])
redis.call('HSET', KEYS[2], 'status', ARGV[1], 'lastSeenAt', ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
if live > 0 and before ~= ARGV[1] then announce(KEYS[4], ARGV[4], ARGV[5], ARGV[1], ARGV[2], KEYS[2]) end
return live
`;

interface PresenceCommands {
  wcrPresSetStatus(...a: Array<string | number>): Promise<number>;
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
  /**
   * A client of its own for SUBSCRIBE: with it, the store delivers every visible change to
   * `onChanged` listeners in Redis order (and `announces` is true).
   */
  subscriber?: Redis;
  onError?: (err: Error) => void;
}

type ChangeListener = (organizationId: string, entry: PresenceEntry, isPrivate: boolean) => void;

interface Announcement {
  o: string;
  u: string;
  s: PresenceStatus;
  t: string;
  /** The user is a parent: the change goes to staff roles only (§12.5). */
  p?: boolean;
}

/**
 * Presence across nodes. Sessions are per-node entries that count only while their node
 * heartbeats (NodeRegistry), so a node killed with -9 does not leave its users online: the
 * survivor that reaps it announces who went offline.
 * Each node also keeps its own sessions in memory and writes them back (`resync`) whenever Redis
 * may have lost or kept the wrong ones: Redis restarted empty, this node was reaped while frozen
 * (its heartbeat lapsed), or a write failed during an outage (sessions closed while Redis was
 * down are removed then, not written back: the local map drops them first, whatever Redis says).
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly p: string;
  private readonly events: string;
  private readonly local = new Map<
    string,
    { organizationId: string; userId: string; isPrivate: boolean }
  >();
  private readonly listeners: ChangeListener[] = [];
  private handedOff = false;
  /** A write failed: Redis may disagree with `local` until the next resync. */
  private dirty = false;
  private resyncing?: Promise<void>;
  private resyncAgain = false;

  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisPresenceStoreOptions,
  ) {
    this.p = `${opts.prefix}presence:`;
    this.events = `${this.p}events`;
    const r = redis as unknown as Partial<PresenceCommands>;
    if (!r.wcrPresAdd) {
      redis.defineCommand('wcrPresAdd', { numberOfKeys: 6, lua: ADD });
      redis.defineCommand('wcrPresRemove', { numberOfKeys: 6, lua: REMOVE });
      redis.defineCommand('wcrPresGet', { numberOfKeys: 1, lua: GET });
      redis.defineCommand('wcrPresList', { numberOfKeys: 2, lua: LIST });
      redis.defineCommand('wcrPresReap', { numberOfKeys: 3, lua: REAP });
      redis.defineCommand('wcrPresSetStatus', { numberOfKeys: 4, lua: SET_STATUS });
    }
    const sub = opts.subscriber;
    if (sub) {
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.events) return;
        let a: Announcement;
        try {
          a = JSON.parse(message) as Announcement;
        } catch {
          return;
        }
        const entry: PresenceEntry = { userId: a.u, status: a.s, lastSeenAt: a.t };
        for (const l of this.listeners) l(a.o, entry, a.p === true);
      });
      void sub.subscribe(this.events).catch((err: Error) => opts.onError?.(err));
    }
  }

  /** True when visible changes are announced through `onChanged` (in Redis order). */
  get announces(): boolean {
    return this.opts.subscriber !== undefined;
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
      this.events,
    ];
  }

  private get userTtl(): number {
    return this.opts.userTtlMs ?? 30 * 24 * 3600 * 1000;
  }

  private add(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
    isPrivate: boolean,
  ) {
    return this.cmd.wcrPresAdd(
      ...this.keys(organizationId, userId),
      sessionId,
      this.opts.nodeId,
      userId,
      at.toISOString(),
      this.userTtl,
      `${organizationId}|${userId}|${sessionId}`,
      organizationId,
      isPrivate ? '1' : '0',
    );
  }

  private remove(organizationId: string, userId: string, sessionId: string, at: Date) {
    return this.cmd.wcrPresRemove(
      ...this.keys(organizationId, userId),
      sessionId,
      userId,
      at.toISOString(),
      this.userTtl,
      `${organizationId}|${userId}|${sessionId}`,
      organizationId,
    );
  }

  async addSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
    isPrivate = false,
  ): Promise<{ first: boolean }> {
    this.local.set(sessionId, { organizationId, userId, isPrivate });
    try {
      const first = await this.add(organizationId, userId, sessionId, at, isPrivate);
      return { first: first === 1 };
    } catch (err) {
      // Redis unreachable: the session is kept locally and written back by resync().
      this.dirty = true;
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
      const last = await this.remove(organizationId, userId, sessionId, at);
      return { last: last === 1 };
    } catch (err) {
      // Gone locally already; resync() removes it from Redis once Redis answers again.
      this.dirty = true;
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
    try {
      await this.cmd.wcrPresSetStatus(
        `${this.p}sess:${organizationId}:${userId}`,
        `${this.p}user:${organizationId}:${userId}`,
        this.opts.nodesKey,
        this.events,
        status,
        at.toISOString(),
        this.userTtl,
        organizationId,
        userId,
      );
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

  /** Every visible change decided on any node, in the order Redis applied them (with `subscriber`). */
  onChanged(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Drops the sessions of dead nodes (called once per dead node, on the node that claimed it);
   * users left without a live session are announced offline. Returns how many.
   */
  async reapNodes(nodeIds: string[]): Promise<number> {
    let n = 0;
    for (const nodeId of nodeIds) {
      const flat = await this.cmd.wcrPresReap(
        `${this.p}node:${nodeId}`,
        this.opts.nodesKey,
        this.events,
        this.p,
        new Date().toISOString(),
      );
      n += flat.length / 3;
    }
    return n;
  }

  /** Something may differ between Redis and this node's sessions (a write failed). */
  get needsResync(): boolean {
    return this.dirty;
  }

  /**
   * Makes Redis agree with this node's live sessions: writes back the ones it lacks (Redis
   * restarted empty, or this node was reaped while frozen past the TTL — those users are
   * announced online again) and removes the ones that ended while Redis could not be told
   * (announced offline). Runs are coalesced: at most one at a time, plus one more if asked
   * again meanwhile.
   */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    const run = async (): Promise<void> => {
      do {
        this.resyncAgain = false;
        this.dirty = false;
        try {
          await this.resyncOnce();
        } catch (err) {
          this.dirty = true;
          throw err;
        }
      } while (this.resyncAgain);
    };
    this.resyncing = run().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  private async resyncOnce(): Promise<void> {
    if (this.handedOff) return;
    const nodeSet = `${this.p}node:${this.opts.nodeId}`;
    const members = await this.redis.smembers(nodeSet);
    const now = new Date();
    for (const member of members) {
      const [organizationId, userId, sessionId] = member.split('|');
      if (!this.local.has(sessionId)) await this.remove(organizationId, userId, sessionId, now);
    }
    for (const [sessionId, { organizationId, userId, isPrivate }] of [...this.local]) {
      // Still live when sent: a disconnect after this point sends its removal behind the add on
      // the same connection, so a session that just ended is never written back.
      if (this.local.has(sessionId))
        await this.add(organizationId, userId, sessionId, now, isPrivate);
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
