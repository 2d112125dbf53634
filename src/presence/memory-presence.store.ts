import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import type { PresenceStore } from './presence.store.js';

interface UserPresence {
  sessions: Set<string>;
  /** Status chosen by the user (`offline` = appear offline); meaningful while sessions exist. */
  status: PresenceStatus;
  lastSeenAt: Date;
}

/**
 * Single-node presence in a Map per organization. A user's visible status is `offline` without
 * sessions, else the stored status; the first session resets it to `online` (§11).
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly orgs = new Map<string, Map<string, UserPresence>>();

  private users(organizationId: string): Map<string, UserPresence> {
    let users = this.orgs.get(organizationId);
    if (!users) this.orgs.set(organizationId, (users = new Map<string, UserPresence>()));
    return users;
  }

  addSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ first: boolean }> {
    const users = this.users(organizationId);
    let entry = users.get(userId);
    if (!entry)
      users.set(
        userId,
        (entry = { sessions: new Set<string>(), status: 'online', lastSeenAt: at }),
      );
    const first = entry.sessions.size === 0;
    if (entry.sessions.has(sessionId)) return Promise.resolve({ first: false });
    entry.sessions.add(sessionId);
    if (first) entry.status = 'online';
    entry.lastSeenAt = at;
    return Promise.resolve({ first });
  }

  removeSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ last: boolean }> {
    const entry = this.orgs.get(organizationId)?.get(userId);
    if (!entry || !entry.sessions.delete(sessionId)) return Promise.resolve({ last: false });
    entry.lastSeenAt = at;
    return Promise.resolve({ last: entry.sessions.size === 0 });
  }

  setStatus(
    organizationId: string,
    userId: string,
    status: PresenceStatus,
    at: Date,
  ): Promise<void> {
    const users = this.users(organizationId);
    const entry = users.get(userId);
    if (entry) {
      entry.status = status;
      entry.lastSeenAt = at;
    } else {
      users.set(userId, { sessions: new Set(), status, lastSeenAt: at });
    }
    return Promise.resolve();
  }

  get(organizationId: string, userIds: string[]): Promise<PresenceEntry[]> {
    const users = this.orgs.get(organizationId);
    return Promise.resolve(userIds.map((userId) => visible(userId, users?.get(userId))));
  }

  listActive(organizationId: string): Promise<PresenceEntry[]> {
    const out: PresenceEntry[] = [];
    for (const [userId, entry] of this.orgs.get(organizationId) ?? []) {
      const v = visible(userId, entry);
      if (v.status !== 'offline') out.push(v);
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    this.orgs.clear();
    return Promise.resolve();
  }
}

function visible(userId: string, entry: UserPresence | undefined): PresenceEntry {
  if (!entry) return { userId, status: 'offline', lastSeenAt: null };
  return {
    userId,
    status: entry.sessions.size > 0 ? entry.status : 'offline',
    lastSeenAt: entry.lastSeenAt.toISOString(),
  };
}
