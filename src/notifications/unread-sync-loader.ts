import type { DatabaseHandle } from '../persistence/database.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import type { NotificationRow } from './notification-row.js';

interface UnreadRequest {
  organizationId: string;
  userId: string;
  limit: number;
}

export interface UnreadResult {
  rows: NotificationRow[];
  total: number;
}

interface UnreadSqlRow {
  u: number;
  id: string;
  organization_id: string;
  user_id: string;
  type: string;
  title: string;
  body: string | null;
  priority: string;
  data: unknown;
  created_ms: number;
  total: number | string;
}

/**
 * Per distinct (organization, user) of the batch, its newest `limit` unread notifications and
 * the total unread count (the window count is taken before the LIMIT), in one plan-cached
 * statement; `u` is the request's index in the arrays.
 */
const UNREAD_SQL = `SELECT r.u, n.id, n.organization_id, n.user_id, n.type, n.title, n.body, n.priority, n.data,
    (extract(epoch from n.created_at) * 1000)::float8 AS created_ms, n.total
  FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS r(organization_id, user_id, lim, u)
  CROSS JOIN LATERAL (
    SELECT x.*, count(*) OVER () AS total FROM notifications x
    WHERE x.user_id = r.user_id AND x.organization_id = r.organization_id AND x.read_at IS NULL
    ORDER BY x.created_at DESC, x.id DESC
    LIMIT r.lim
  ) n
  ORDER BY r.u, n.created_at DESC, n.id DESC`;

/**
 * The `notification:sync` reads of a connect storm (§4 step 4), grouped (micro-batcher.ts): the
 * sockets connecting in the same few milliseconds share one statement instead of one each; every
 * caller gets its own rows (fresh objects) and count.
 */
export class UnreadSyncLoader {
  private readonly batcher = new MicroBatcher<UnreadRequest, UnreadResult>((batch) =>
    this.run(batch),
  );

  constructor(private readonly database: DatabaseHandle) {}

  load(organizationId: string, userId: string, limit: number): Promise<UnreadResult> {
    return this.batcher.load({ organizationId, userId, limit });
  }

  private async run(batch: UnreadRequest[]): Promise<UnreadResult[]> {
    // One entry per distinct user and limit: two sockets of one user in a batch share it.
    const index = new Map<string, number>();
    const requests: UnreadRequest[] = [];
    const slot = batch.map((r) => {
      const key = `${r.organizationId}\u0000${r.userId}\u0000${r.limit}`;
      let i = index.get(key);
      if (i === undefined) {
        i = requests.length;
        index.set(key, i);
        requests.push(r);
      }
      return i;
    });
    const rows = await this.database.prepared<UnreadSqlRow>(
      'notifications_unread_batch',
      UNREAD_SQL,
      [
        requests.map((r) => r.organizationId),
        requests.map((r) => r.userId),
        requests.map((r) => r.limit),
      ],
    );
    const found: Array<Array<UnreadSqlRow>> = requests.map(() => []);
    for (const row of rows) found[Number(row.u) - 1]?.push(row);
    return slot.map((i) => {
      const list = found[i];
      return {
        rows: list.map((r) => ({
          id: r.id,
          organizationId: r.organization_id,
          userId: r.user_id,
          type: r.type,
          title: r.title,
          body: r.body,
          priority: r.priority,
          data: jsonData(r.data),
          createdAt: new Date(Number(r.created_ms)),
          readAt: null,
        })),
        total: list.length > 0 ? Number(list[0].total) : 0,
      };
    });
  }
}

/** jsonb comes back parsed from both drivers; be tolerant of text. */
function jsonData(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return JSON.parse(v) as Record<string, unknown>;
  return (v ?? {}) as Record<string, unknown>;
}
