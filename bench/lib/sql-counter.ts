/**
 * Preloaded into our server by the storm scenario (`node --import dist/bench/lib/sql-counter.js`):
 * counts every statement the server sends to PostgreSQL (each `pg` Client#query, BEGIN and
 * COMMIT included) and writes the running count to `BENCH_SQL_COUNT_FILE` every 100 ms when it
 * changed, so the orchestrator can report statements per handshake. Nothing else is touched.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';

const file = process.env.BENCH_SQL_COUNT_FILE;
if (file) {
  let count = 0;
  let written = -1;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    count++;
    return query.apply(this, args);
  };
  const flush = (): void => {
    if (count === written) return;
    written = count;
    writeFileSync(file, String(count));
  };
  flush();
  setInterval(flush, 100).unref();
}
