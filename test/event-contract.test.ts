/**
 * The event contract has one source per part and the parts cannot drift apart: every client
 * event of the typed event map (`ClientEventSpec`, read from its source) has a DTO
 * (CLIENT_EVENT_DTOS) and a catalog entry (CLIENT_EVENTS) and nothing else does; and the server
 * validates each event with the very DTO the documentation is generated from — asked with an
 * empty payload plus an unknown property, it names exactly the properties the generated schema
 * says are required, and the unknown one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientPayloadSchema } from '../scripts/event-docs.js';
import { CLIENT_EVENTS } from '../src/protocol/catalog.js';
import { CLIENT_EVENT_DTOS } from '../src/protocol/dto/client-events.js';
import type { ClientEventName } from '../src/protocol/events.js';
import { dtoSchema } from '../src/protocol/schema.js';
import { closeAll, connect, rawRequest, type TestSocket } from './support/client.js';
import { useServer } from './support/server.js';
import { interfaceKeys } from './support/source.js';
import { signToken } from './support/tokens.js';

const source = readFileSync(
  join(import.meta.dirname, '../packages/client/src/protocol/events.ts'),
  'utf8',
);
const specEvents = interfaceKeys(source, 'ClientEventSpec').sort();
/** Events whose payload the event map declares `void` (no payload, so no DTO). */
const voidEvents = specEvents.filter((e) =>
  new RegExp(`^ {2}'?${e}'?: \\{ payload: void;`, 'm').test(source),
);

describe('client events: event map, DTOs and catalog agree', () => {
  it('every event of ClientEventSpec has a DTO entry and a catalog entry, and nothing else has', () => {
    expect(specEvents.length).toBeGreaterThan(10);
    expect(Object.keys(CLIENT_EVENT_DTOS).sort()).toEqual(specEvents);
    expect(Object.keys(CLIENT_EVENTS).sort()).toEqual(specEvents);
  });

  it('an event has no DTO only when the event map says it takes no payload', () => {
    expect(voidEvents).toEqual(['ping']);
    const withoutDto = specEvents.filter((e) => CLIENT_EVENT_DTOS[e as ClientEventName] === null);
    expect(withoutDto).toEqual(voidEvents);
  });

  it('every DTO yields a closed schema with at least one property (no validator without a mapping)', () => {
    for (const [event, dto] of Object.entries(CLIENT_EVENT_DTOS)) {
      if (!dto) continue;
      const schema = dtoSchema(dto);
      expect(schema.type, event).toBe('object');
      expect(schema.additionalProperties, event).toBe(false);
      expect(Object.keys(schema.properties ?? {}).length, event).toBeGreaterThan(0);
    }
  });
});

describe('the server validates each client event with the documented DTO', () => {
  const srv = useServer();
  let socket: TestSocket;
  beforeAll(async () => {
    const token = await signToken({ userId: 'contract-1', organizationId: 'school-contract' });
    socket = (await connect(srv.url, token)).socket;
  });
  afterAll(() => closeAll(socket));

  const PROBE = 'notInTheContract';
  for (const event of Object.keys(CLIENT_EVENT_DTOS) as ClientEventName[]) {
    const schema = clientPayloadSchema(event);
    if (!schema) continue;
    const required = schema.required ?? [];
    it(`${event}: refuses {${PROBE}} naming ${required.length ? required.join(', ') + ' and ' : ''}${PROBE}`, async () => {
      const res = await rawRequest(socket, event, { [PROBE]: 1 });
      expect(res.ok).toBe(false);
      if (res.ok) return;
      expect(res.error.type).toBe('VALIDATION_ERROR');
      const details = res.error.details as Array<{ field: string; constraints: string[] }>;
      expect(details.map((d) => d.field).sort()).toEqual([...required, PROBE].sort());
      expect(details.find((d) => d.field === PROBE)?.constraints).toEqual(['whitelistValidation']);
    });
  }
});
