import { coordinationPrefix, type RedisClient } from '../redis/redis.connections.js';
import { Resync } from '../redis/resync.js';
import { AppError } from '../protocol/errors.js';
import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import { LUA_ALIVE, LUA_NOW } from '../redis/node-registry.js';
import type { PresenceStore } from './presence.store.js';

/*
 * Keys (P = prefix + "{" + prefix + "}presence:", see coordinationPrefix: every key below shares the
 * hash tag, so each script's keys are in one slot of a Redis Cluster):
 *   P sess:<org>:<user>   hash  session id → node id (a session counts while its node's heartbeat holds)
 *   P user:<org>:<user>   hash  status, lastSeenAt (ISO), private ('1' for a parent, §12.5); kept 30 days
 *   P org:<org>           set   users that may have live sessions (for listActive)
 *   P node:<node>         set   "<org>|<user>|<session>" held by that node (for reaping a dead node)
 *   <prefix>{<prefix>}nodes  zset  node id → heartbeat deadline (NodeRegistry)
 *   <prefix>presence:events  channel  every visible change, published by the script that decided it
 *                            (a channel, not a key: passed in ARGV)
 * Every decision that spans nodes (first join, last leave, reaping) is one Lua script, and every
 * key a script touches is passed in KEYS (a Redis Cluster routes a script by its KEYS and must
 * not see it touch others). Where the keys are known only after a read (an org's
 * users, a dead node's sessions) the read comes first and the script re-checks what it acts on.
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

/** KEYS sess, user, org, nodeSet, nodes; ARGV sid, nodeId, userId, atIso, userTtlMs, member, orgId, private, events. Returns 1 when first. */
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
  announce(ARGV[9], ARGV[7], ARGV[3], 'online', ARGV[4], KEYS[2])
  return 1
end
return 0
`;

/** KEYS sess, user, org, nodeSet, nodes; ARGV sid, userId, atIso, userTtlMs, member, orgId, events. Returns 1 when last. */
const REMOVE = `${HEAD}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[4], ARGV[5])
redis.call('HSET', KEYS[2], 'lastSeenAt', ARGV[3])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if countLive(KEYS[1], KEYS[5]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  if redis.call('HGET', KEYS[2], 'status') ~= 'offline' then
    announce(ARGV[7], ARGV[6], ARGV[2], 'offline', ARGV[3], KEYS[2])
  end
  return 1
end
return 0
`;

/** KEYS nodes, then sess and user of each user. Returns per user: status ('' unknown), lastSeenAt ('' none), live count. */
const GET = `${HEAD}
local out = {}
for i = 2, #KEYS, 2 do
  local h = redis.call('HMGET', KEYS[i + 1], 'status', 'lastSeenAt')
  local live = countLive(KEYS[i], KEYS[1])
  table.insert(out, h[1] or '')
  table.insert(out, h[2] or '')
  table.insert(out, live)
end
return out
`;

/**
 * KEYS org, nodes, then sess and user of each user; ARGV the user ids (read from the org set just
 * before). Returns userId, status, lastSeenAt for every visible user; drops users without live
 * sessions from the org set.
 */
const LIST = `${HEAD}
local out = {}
for j = 1, #ARGV do
  local sessKey = KEYS[1 + 2 * j]
  local userKey = KEYS[2 + 2 * j]
  local user = ARGV[j]
  local live = countLive(sessKey, KEYS[2])
  if live == 0 then
    redis.call('SREM', KEYS[1], user)
  else
    local h = redis.call('HMGET', userKey, 'status', 'lastSeenAt')
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
 * KEYS nodeSet (of a dead node), nodes, then sess, user and org of each member; ARGV events,
 * nowIso, then the members ("org|user|session", read from the node set just before). Drops each
 * session; returns org, user, lastSeenAt for each user left without live sessions who was
 * visible (not "appear offline"). Each member leaves the node set (it is gone once empty).
 */
const REAP = `${HEAD}
local out = {}
for j = 3, #ARGV do
  local member = ARGV[j]
  local org, user, sid = string.match(member, '^([^|]+)|([^|]+)|(.+)$')
  local base = 3 * (j - 3) + 2
  local sessKey, userKey, orgKey = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
  if org and redis.call('SISMEMBER', KEYS[1], member) == 1 then
    if redis.call('HDEL', sessKey, sid) == 1 and countLive(sessKey, KEYS[2]) == 0 then
      redis.call('SREM', orgKey, user)
      local status = redis.call('HGET', userKey, 'status')
      redis.call('HSET', userKey, 'lastSeenAt', ARGV[2])
      if status ~= 'offline' then
        announce(ARGV[1], org, user, 'offline', ARGV[2], userKey)
        table.insert(out, org)
        table.insert(out, user)
        table.insert(out, ARGV[2])
      end
    end
  end
  redis.call('SREM', KEYS[1], member)
end
return out
`;

/**
 * KEYS sess, user, nodes; ARGV status, atIso, userTtlMs, orgId, userId, events. Sets the chosen
 * status; announces it when the visible status changes (the user has a live session).
 */
const SET_STATUS = `${HEAD}
local before = redis.call('HGET', KEYS[2], 'status') or 'online'
local live = countLive(KEYS[1], KEYS[3])
redis.call('HSET', KEYS[2], 'status', ARGV[1], 'lastSeenAt', ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
if live > 0 and before ~= ARGV[1] then announce(ARGV[6], ARGV[4], ARGV[5], ARGV[1], ARGV[2], KEYS[2]) end
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
  subscriber?: RedisClient;
  onError?: (err: Error) => void;
}

/** Users (or sessions) per script call where the keys come from a read: bounds one script's run. */
const SCRIPT_BATCH = 200;

/** "org|user|session" → its parts (as the scripts' pattern `^([^|]+)|([^|]+)|(.+)$` reads it). */
function splitMember(member: string): [string, string, string] {
  const m = /^([^|]+)\|([^|]+)\|(.+)$/.exec(member);
  return m ? [m[1], m[2], m[3]] : ['', '', ''];
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
  private readonly sync = new Resync(() => this.resyncOnce());

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: RedisPresenceStoreOptions,
  ) {
    this.p = `${coordinationPrefix(opts.prefix)}presence:`;
    // A channel, not a key: classic PUBLISH reaches every subscriber in a cluster too.
    this.events = `${opts.prefix}presence:events`;
    const r = redis as unknown as Partial<PresenceCommands>;
    if (!r.wcrPresAdd) {
      redis.defineCommand('wcrPresAdd', { numberOfKeys: 5, lua: ADD });
      redis.defineCommand('wcrPresRemove', { numberOfKeys: 5, lua: REMOVE });
      // Key count varies with the users asked for: the caller passes it first.
      redis.defineCommand('wcrPresGet', { lua: GET });
      redis.defineCommand('wcrPresList', { lua: LIST });
      redis.defineCommand('wcrPresReap', { lua: REAP });
      redis.defineCommand('wcrPresSetStatus', { numberOfKeys: 3, lua: SET_STATUS });
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

  private sessKey(organizationId: string, userId: string): string {
    return `${this.p}sess:${organizationId}:${userId}`;
  }

  private userKey(organizationId: string, userId: string): string {
    return `${this.p}user:${organizationId}:${userId}`;
  }

  private orgKey(organizationId: string): string {
    return `${this.p}org:${organizationId}`;
  }

  private keys(organizationId: string, userId: string, nodeId = this.opts.nodeId): string[] {
    return [
      this.sessKey(organizationId, userId),
      this.userKey(organizationId, userId),
      this.orgKey(organizationId),
      `${this.p}node:${nodeId}`,
      this.opts.nodesKey,
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
      this.events,
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
      this.events,
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
      this.sync.markDirty();
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
      this.sync.markDirty();
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
        this.sessKey(organizationId, userId),
        this.userKey(organizationId, userId),
        this.opts.nodesKey,
        status,
        at.toISOString(),
        this.userTtl,
        organizationId,
        userId,
        this.events,
      );
    } catch {
      throw AppError.unavailable('Presence is temporarily unavailable');
    }
  }

  async get(organizationId: string, userIds: string[]): Promise<PresenceEntry[]> {
    if (userIds.length === 0) return [];
    let flat: Array<string | number>;
    try {
      flat = await this.cmd.wcrPresGet(
        1 + 2 * userIds.length,
        this.opts.nodesKey,
        ...userIds.flatMap((u) => [
          this.sessKey(organizationId, u),
          this.userKey(organizationId, u),
        ]),
      );
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
    const flat: string[] = [];
    try {
      // The org's users first, then their keys in bounded batches (each batch one script: its
      // keys named in KEYS). A user who joins in between is listed by the next call.
      const orgKey = this.orgKey(organizationId);
      const users = await this.redis.smembers(orgKey);
      for (let i = 0; i < users.length; i += SCRIPT_BATCH) {
        const batch = users.slice(i, i + SCRIPT_BATCH);
        flat.push(
          ...(await this.cmd.wcrPresList(
            2 + 2 * batch.length,
            orgKey,
            this.opts.nodesKey,
            ...batch.flatMap((u) => [
              this.sessKey(organizationId, u),
              this.userKey(organizationId, u),
            ]),
            ...batch,
          )),
        );
      }
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
      const nodeSet = `${this.p}node:${nodeId}`;
      // Read, then reap in batches whose keys are all named (the script re-checks membership).
      const members = await this.redis.smembers(nodeSet);
      for (let i = 0; i < members.length; i += SCRIPT_BATCH) {
        const batch = members.slice(i, i + SCRIPT_BATCH);
        const keys = batch.flatMap((m) => {
          const [org, user] = splitMember(m);
          return [this.sessKey(org, user), this.userKey(org, user), this.orgKey(org)];
        });
        const flat = await this.cmd.wcrPresReap(
          2 + keys.length,
          nodeSet,
          this.opts.nodesKey,
          ...keys,
          this.events,
          new Date().toISOString(),
          ...batch,
        );
        n += flat.length / 3;
      }
    }
    return n;
  }

  /** Something may differ between Redis and this node's sessions (a write failed). */
  get needsResync(): boolean {
    return this.sync.needed;
  }

  /**
   * Makes Redis agree with this node's live sessions: writes back the ones it lacks (Redis
   * restarted empty, or this node was reaped while frozen past the TTL — those users are
   * announced online again) and removes the ones that ended while Redis could not be told
   * (announced offline). Runs are coalesced: at most one at a time, plus one more if asked
   * again meanwhile.
   */
  resync(): Promise<void> {
    return this.sync.run();
  }

  private async resyncOnce(): Promise<void> {
    if (this.handedOff) return;
    const nodeSet = `${this.p}node:${this.opts.nodeId}`;
    const members = await this.redis.smembers(nodeSet);
    const now = new Date();
    for (const member of members) {
      const [organizationId, userId, sessionId] = splitMember(member);
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
