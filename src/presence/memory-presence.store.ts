import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import type { PresenceStore } from './presence.store.js';

interface UserPresence {
  /**
   * Live session ids: none, the one id (most users have a single session, and its string is the
   * socket's own id, so it costs nothing extra), or a Set from the second on.
   */
  sessions: undefined | string | Set<string>;
  /** Status chosen by the user (`offline` = appear offline); meaningful while sessions exist. */
  status: PresenceStatus;
  /** ms since the epoch (a Date object costs ≈ 90 bytes more per user). */
  lastSeenAt: number;
}

function sessionCount(entry: UserPresence): number {
  const s = entry.sessions;
  return s === undefined ? 0 : typeof s === 'string' ? 1 : s.size;
}

function hasSession(entry: UserPresence, id: string): boolean {
  const s = entry.sessions;
  return s === undefined ? false : typeof s === 'string' ? s === id : s.has(id);
}

function addSession(entry: UserPresence, id: string): void {
  const s = entry.sessions;
  if (s === undefined) entry.sessions = id;
  else if (typeof s === 'string') entry.sessions = new Set([s, id]);
  else s.add(id);
}

/** false when the id was not there. */
function removeSession(entry: UserPresence, id: string): boolean {
  const s = entry.sessions;
  if (s === undefined) return false;
  if (typeof s === 'string') {
    if (s !== id) return false;
    entry.sessions = undefined;
    return true;
  }
  if (!s.delete(id)) return false;
  if (s.size === 1) entry.sessions = s.values().next().value;
  return true;
}

/**
 * Single-node presence in a Map per organization. A user's visible status is `offline` without
 * sessions, else the stored status; the first session resets it to `online` (§11). Kept compact:
 * at one idle connection per user it is part of every connection's cost.
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
      users.set(userId, (entry = { sessions: undefined, status: 'online', lastSeenAt: +at }));
    const first = sessionCount(entry) === 0;
    if (hasSession(entry, sessionId)) return Promise.resolve({ first: false });
    addSession(entry, sessionId);
    if (first) entry.status = 'online';
    entry.lastSeenAt = +at;
    return Promise.resolve({ first });
  }

  removeSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ last: boolean }> {
    const entry = this.orgs.get(organizationId)?.get(userId);
    if (!entry || !removeSession(entry, sessionId)) return Promise.resolve({ last: false });
    entry.lastSeenAt = +at;
    return Promise.resolve({ last: sessionCount(entry) === 0 });
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
      entry.lastSeenAt = +at;
    } else {
      users.set(userId, { sessions: undefined, status, lastSeenAt: +at });
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
    status: sessionCount(entry) > 0 ? entry.status : 'offline',
    lastSeenAt: new Date(entry.lastSeenAt).toISOString(),
  };
}
