/**
 * Port: live sockets per user and namespace across all nodes, for WS_MAX_CONNECTIONS_PER_USER.
 * Memory on one node; Redis (expiring per-node entries) across nodes. `user` is the user's
 * `userKeyString` (`<org>:<user>`, §12.1): the same id in two organizations has two caps.
 */
export interface ConnectionCounter {
  /** Reserves a slot for `socketId`; false when the user already has `max` live sockets. */
  tryAcquire(namespace: string, user: string, socketId: string, max: number): Promise<boolean>;
  release(namespace: string, user: string, socketId: string): Promise<void>;
  count(namespace: string, user: string): Promise<number>;
  close(): Promise<void>;
}

export const CONNECTION_COUNTER = Symbol('CONNECTION_COUNTER');

/**
 * One node: per namespace, user key → the live socket ids: the one id (a user's usual single
 * socket), or a Set from the second on. At one idle socket per user this is part of every connection's cost.
 */
export class MemoryConnectionCounter implements ConnectionCounter {
  private readonly namespaces = new Map<string, Map<string, string | Set<string>>>();

  private users(namespace: string): Map<string, string | Set<string>> {
    let users = this.namespaces.get(namespace);
    if (!users) this.namespaces.set(namespace, (users = new Map<string, string | Set<string>>()));
    return users;
  }

  tryAcquire(namespace: string, userId: string, socketId: string, max: number): Promise<boolean> {
    const users = this.users(namespace);
    const held = users.get(userId);
    if (held === undefined) {
      if (max < 1) return Promise.resolve(false);
      users.set(userId, socketId);
      return Promise.resolve(true);
    }
    if (typeof held === 'string') {
      if (held === socketId) return Promise.resolve(true);
      if (max < 2) return Promise.resolve(false);
      users.set(userId, new Set([held, socketId]));
      return Promise.resolve(true);
    }
    if (held.has(socketId)) return Promise.resolve(true);
    if (held.size >= max) return Promise.resolve(false);
    held.add(socketId);
    return Promise.resolve(true);
  }

  release(namespace: string, userId: string, socketId: string): Promise<void> {
    const users = this.namespaces.get(namespace);
    const held = users?.get(userId);
    if (held === undefined) return Promise.resolve();
    if (typeof held === 'string') {
      if (held === socketId) users!.delete(userId);
    } else if (held.delete(socketId) && held.size === 1) {
      users!.set(userId, held.values().next().value!);
    }
    return Promise.resolve();
  }

  count(namespace: string, userId: string): Promise<number> {
    const held = this.namespaces.get(namespace)?.get(userId);
    return Promise.resolve(held === undefined ? 0 : typeof held === 'string' ? 1 : held.size);
  }

  close(): Promise<void> {
    this.namespaces.clear();
    return Promise.resolve();
  }
}
