import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';

/**
 * Port: who is connected, across nodes. Memory on one node; Redis (per-node session entries with
 * expiring heartbeats, so a dead node's users go offline) across nodes. Sessions count `/`
 * sockets only (§11).
 */
export interface PresenceStore {
  /**
   * Adds a live session; `first` is true when the user had no live session on any node before.
   * A first session resets the stored status to `online` (§11); every call sets lastSeenAt = at.
   * Adding a session id that is already present changes nothing and returns first: false.
   * `isPrivate` (the user is a `parent`, §12.5) travels with the user's announced changes, so
   * every node routes them to the staff roles only.
   */
  addSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
    isPrivate?: boolean,
  ): Promise<{ first: boolean }>;
  /**
   * Removes a session; `last` is true when no live session of the user remains on any node (then
   * lastSeenAt = at). Removing an unknown session changes nothing and returns last: false.
   */
  removeSession(
    organizationId: string,
    userId: string,
    sessionId: string,
    at: Date,
  ): Promise<{ last: boolean }>;
  /** Stored status (`online`, `away`, or `offline` = appear offline) and last activity. */
  setStatus(
    organizationId: string,
    userId: string,
    status: PresenceStatus,
    at: Date,
  ): Promise<void>;
  /** Entries for these users; unknown users come back offline with lastSeenAt null. */
  get(organizationId: string, userIds: string[]): Promise<PresenceEntry[]>;
  /** Every user of the organization whose visible status is online or away. */
  listActive(organizationId: string): Promise<PresenceEntry[]>;
  /**
   * Across nodes only: true when the store itself announces every visible change (first session,
   * last session, status, a dead node's users) through `onChanged`, to every node in the order
   * the changes were applied; the service then emits them to its local sockets only and never
   * on its own, so no node's late `offline` can overtake another node's `online`.
   */
  readonly announces?: boolean;
  onChanged?(
    listener: (organizationId: string, entry: PresenceEntry, isPrivate: boolean) => void,
  ): void;
  /**
   * Graceful stop: this node's sessions are left to expire with its heartbeat instead of being
   * removed one by one, so users who reconnect to another node do not flap offline.
   */
  handOff?(): void;
  close(): Promise<void>;
}

export const PRESENCE_STORE = Symbol('PRESENCE_STORE');
