/**
 * Port: live sockets per user and namespace across all nodes, for WS_MAX_CONNECTIONS_PER_USER.
 * Memory on one node; Redis (expiring per-node entries) across nodes.
 */
export interface ConnectionCounter {
  /** Reserves a slot for `socketId`; false when the user already has `max` live sockets. */
  tryAcquire(namespace: string, userId: string, socketId: string, max: number): Promise<boolean>;
  release(namespace: string, userId: string, socketId: string): Promise<void>;
  count(namespace: string, userId: string): Promise<number>;
  close(): Promise<void>;
}

export const CONNECTION_COUNTER = Symbol('CONNECTION_COUNTER');

export class MemoryConnectionCounter implements ConnectionCounter {
  private readonly slots = new Map<string, Set<string>>();

  private key(ns: string, userId: string): string {
    return `${ns}|${userId}`;
  }

  tryAcquire(namespace: string, userId: string, socketId: string, max: number): Promise<boolean> {
    const key = this.key(namespace, userId);
    let set = this.slots.get(key);
    if (!set) this.slots.set(key, (set = new Set()));
    if (set.has(socketId)) return Promise.resolve(true);
    if (set.size >= max) return Promise.resolve(false);
    set.add(socketId);
    return Promise.resolve(true);
  }

  release(namespace: string, userId: string, socketId: string): Promise<void> {
    const key = this.key(namespace, userId);
    const set = this.slots.get(key);
    if (set) {
      set.delete(socketId);
      if (set.size === 0) this.slots.delete(key);
    }
    return Promise.resolve();
  }

  count(namespace: string, userId: string): Promise<number> {
    return Promise.resolve(this.slots.get(this.key(namespace, userId))?.size ?? 0);
  }

  close(): Promise<void> {
    this.slots.clear();
    return Promise.resolve();
  }
}
