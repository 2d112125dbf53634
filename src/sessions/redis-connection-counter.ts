import type { Redis } from 'ioredis';
import { LUA_ALIVE, LUA_NOW } from '../redis/node-registry.js';
import type { ConnectionCounter } from './connection-counter.js';

/**
 * KEYS[1] the user's socket hash (field socket id → node id), KEYS[2] the node registry.
 * Drops entries of dead nodes, then takes a slot if fewer than ARGV[3] live ones remain.
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

interface CounterCommands {
  wcrConnAcquire(
    key: string,
    nodes: string,
    socketId: string,
    nodeId: string,
    max: number,
    ttlMs: number,
  ): Promise<number>;
  wcrConnCount(key: string, nodes: string): Promise<number>;
}

/**
 * Live sockets per user and namespace across nodes (WS_MAX_CONNECTIONS_PER_USER). Each entry
 * names the node holding the socket; entries of nodes whose heartbeat expired do not count and
 * are dropped on the next acquire, so a node killed with -9 frees its users' slots.
 * While Redis is unreachable the cap is not enforced across nodes (fail open): refusing every
 * handshake during an outage would take the whole service down with Redis.
 */
export class RedisConnectionCounter implements ConnectionCounter {
  constructor(
    private readonly redis: Redis,
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
      redis.defineCommand('wcrConnAcquire', { numberOfKeys: 2, lua: ACQUIRE_SCRIPT });
    if (!r.wcrConnCount)
      redis.defineCommand('wcrConnCount', { numberOfKeys: 2, lua: COUNT_SCRIPT });
  }

  /** `<prefix>conn:<ns>:<org>:<user>` (`user` is the userKeyString, §12.1). */
  private key(ns: string, user: string): string {
    return `${this.opts.prefix}conn:${ns}:${user}`;
  }

  private get cmd(): CounterCommands {
    return this.redis as unknown as CounterCommands;
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
        socketId,
        this.opts.nodeId,
        max,
        this.opts.entryTtlMs ?? 24 * 3600 * 1000,
      );
      return r === 1;
    } catch (err) {
      this.opts.onError?.(err as Error);
      return true;
    }
  }

  async release(namespace: string, userId: string, socketId: string): Promise<void> {
    try {
      await this.redis.hdel(this.key(namespace, userId), socketId);
    } catch (err) {
      // The entry dies with the node's heartbeat or the hash's expiry.
      this.opts.onError?.(err as Error);
    }
  }

  count(namespace: string, userId: string): Promise<number> {
    return this.cmd.wcrConnCount(this.key(namespace, userId), this.opts.nodesKey);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
