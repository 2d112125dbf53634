import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validatePayload } from '../../gateway/validation.js';
import { MessageSendDto } from './client.dto.js';
import { isValidMessageSend } from './fast-checks.js';

function dtoAccepts(payload: unknown): boolean {
  try {
    validatePayload(MessageSendDto, payload);
    return true;
  } catch {
    return false;
  }
}

const base = () => ({
  messageId: randomUUID(),
  conversationId: randomUUID(),
  content: 'Ibuprofen given at 10:40',
});

/** Values that probe each rule's edges: types, lengths, patterns, shapes, forbidden keys. */
const VALUES: unknown[] = [
  undefined,
  null,
  0,
  true,
  '',
  'x',
  '\uFE0F',
  '\uD83D\uDE00',
  'a'.repeat(10000),
  'a'.repeat(10001),
  '\uD83D\uDE00'.repeat(5001),
  'text',
  'TEXT',
  'has space',
  'ok_id-1',
  'x'.repeat(64),
  'x'.repeat(65),
  '3b241101-e2bb-1255-8caf-4136c566a962',
  '3B241101-E2BB-4255-8CAF-4136C566A962',
  [],
  ['a'],
  {},
  { a: 1 },
  { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } },
  JSON.parse('{"__proto__": {"x": 1}}'),
  { constructor: 1 },
  { big: 'y'.repeat(2100) },
  new Date(0),
];

describe('isValidMessageSend (the fast path of message:send)', () => {
  it('accepts the usual payloads, so the fast path is taken', () => {
    expect(isValidMessageSend(base())).toBe(true);
    expect(isValidMessageSend({ ...base(), type: 'text', metadata: { ward: 'B' } })).toBe(true);
  });

  it('never accepts a payload the DTO refuses (every field × every probe value)', () => {
    const payloads: unknown[] = [undefined, null, 'str', [base()], Object.create(null)];
    for (const field of ['messageId', 'conversationId', 'content', 'type', 'metadata', 'extra']) {
      for (const value of VALUES) payloads.push({ ...base(), [field]: value });
      const without = base() as Record<string, unknown>;
      delete without[field];
      payloads.push(without);
    }
    payloads.push(JSON.parse(`{"__proto__": 1, "messageId": "${randomUUID()}"}`));
    let accepted = 0;
    for (const p of payloads) {
      if (!isValidMessageSend(p)) continue;
      accepted++;
      expect(dtoAccepts(p), JSON.stringify(p)?.slice(0, 120)).toBe(true);
    }
    // The probe set holds valid payloads too; the check is not vacuous.
    expect(accepted).toBeGreaterThan(5);
  });
});
