/**
 * Per-message storage cost of `message:send` on each driver (issue 3): the real repository and
 * group-commit writer, without sockets. Prints wall time and this process's CPU time per message
 * (PGlite's work is in-process CPU; PostgreSQL's server CPU is not counted).
 *
 *   npx tsx scripts/measure-message-store.ts [postgres://…/db]   (a throwaway database is created when omitted and reachable)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MessageWriter } from '../src/messaging/message-writer.js';
import { MessagesRepository, type NewMessage } from '../src/messaging/messages.repository.js';
import { ParticipantsRepository } from '../src/messaging/participants.repository.js';
import { ConversationsRepository } from '../src/messaging/conversations.repository.js';
import { openPglite, openPostgres, type DatabaseHandle } from '../src/persistence/database.js';

const CONVERSATIONS = 10;
const MESSAGES = 2000;

async function measure(name: string, handle: DatabaseHandle): Promise<void> {
  const messages = new MessagesRepository(handle);
  const writer = new MessageWriter(handle, messages);
  const convs = new ConversationsRepository(handle);
  const parts = new ParticipantsRepository(handle);
  const ids: string[] = [];
  for (let c = 0; c < CONVERSATIONS; c++) {
    const id = randomUUID();
    ids.push(id);
    await handle.db.transaction(async (tx) => {
      await convs.insertIfAbsent({ id, organizationId: 'o', title: null, createdBy: 'u0' }, tx);
      await parts.insertMany(
        id,
        'o',
        Array.from({ length: 10 }, (_, u) => `u${u}`),
        tx,
      );
    });
  }
  const input = (i: number): NewMessage => ({
    id: randomUUID(),
    conversationId: ids[i % CONVERSATIONS],
    senderId: `u${i % 10}`,
    organizationId: 'o',
    content: `measurement message number ${i} with some ordinary length text`,
    metadata: {},
  });
  for (let i = 0; i < 50; i++) await writer.write(input(i)); // warm-up

  const run = async (label: string, n: number, fn: () => Promise<unknown>) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const wallUs = ((performance.now() - t0) * 1000) / n;
    const c = process.cpuUsage(cpu0);
    const cpuUs = (c.user + c.system) / n;
    console.log(
      `${name.padEnd(16)} ${label.padEnd(34)} ${wallUs.toFixed(0).padStart(6)} µs wall/msg ${cpuUs.toFixed(0).padStart(6)} µs cpu/msg`,
    );
  };
  const one = 300;
  await run('one at a time (latency)', one, async () => {
    for (let i = 0; i < one; i++) await writer.write(input(i));
  });
  for (const burst of [10, 100, 1000]) {
    await run(`bursts of ${burst} (group commit)`, MESSAGES, async () => {
      for (let b = 0; b < MESSAGES / burst; b++)
        await Promise.all(
          Array.from({ length: burst }, (_, i) => writer.write(input(b * burst + i))),
        );
    });
  }
}

const memory = await openPglite({});
await measure('PGlite memory', memory);
await memory.close();

const dir = mkdtempSync(join(tmpdir(), 'wcr-measure-'));
const disk = await openPglite({ dataDir: dir });
await measure('PGlite data dir', disk);
await disk.close();
rmSync(dir, { recursive: true, force: true });

const admin = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let url = process.argv[2];
let drop: (() => Promise<void>) | undefined;
if (!url) {
  const c = new pg.Client({ connectionString: admin });
  try {
    await c.connect();
    const name = `wcr_measure_${Date.now().toString(36)}`;
    await c.query(`CREATE DATABASE ${name}`);
    const u = new URL(admin);
    u.pathname = `/${name}`;
    url = u.toString();
    drop = async () => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } catch {
    console.log('PostgreSQL not reachable: skipped');
  }
}
if (url) {
  const pgHandle = await openPostgres(url);
  await measure('PostgreSQL', pgHandle);
  await pgHandle.close();
  await drop?.();
}
