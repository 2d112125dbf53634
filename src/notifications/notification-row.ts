import type { notifications } from '../persistence/schema.js';

/**
 * The `notifications` table's row types, shared by the repository and the connect-time sync
 * loader (unread-sync-loader.ts) without either importing the other.
 */
export type NotificationRow = typeof notifications.$inferSelect;
export type NewNotificationRow = typeof notifications.$inferInsert;
