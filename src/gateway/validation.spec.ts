import { describe, expect, it } from 'vitest';
import { ConversationCreateDto, MessageSendDto, ChannelDto } from '../protocol/dto/client.dto.js';
import { AppError } from '../protocol/errors.js';
import { validatePayload } from './validation.js';

function details(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).type).toBe('VALIDATION_ERROR');
    return (e as AppError).details;
  }
  throw new Error('expected a validation error');
}

const uuid = '3b241101-e2bb-4255-8caf-4136c566a962';

describe('validatePayload', () => {
  it('reports a bad array element as field.N', () => {
    expect(
      details(() =>
        validatePayload(ConversationCreateDto, { participantIds: ['a', 'b', 'c', 'bad id!'] }),
      ),
    ).toEqual([{ field: 'participantIds.3', constraints: ['matches'] }]);
    const d = details(() =>
      validatePayload(ConversationCreateDto, { participantIds: ['a', 7] }),
    ) as Array<{ field: string; constraints: string[] }>;
    expect(d.map((x) => ({ ...x, constraints: [...x.constraints].sort() }))).toEqual([
      { field: 'participantIds.1', constraints: ['isString', 'matches'] },
    ]);
  });

  it('reports array size and unknown properties with class-validator names', () => {
    expect(details(() => validatePayload(ConversationCreateDto, { participantIds: [] }))).toEqual([
      { field: 'participantIds', constraints: ['arrayMinSize'] },
    ]);
    expect(details(() => validatePayload(ChannelDto, { channel: 'org:a', extra: 1 }))).toEqual([
      { field: 'extra', constraints: ['whitelistValidation'] },
    ]);
  });

  it('never includes the submitted value', () => {
    const marker = 'PHI-MARKER-123';
    const d = details(() =>
      validatePayload(MessageSendDto, {
        messageId: marker,
        conversationId: 'c1',
        content: marker,
        type: marker,
      }),
    );
    expect(JSON.stringify(d)).not.toContain(marker);
    expect(d).toEqual(
      expect.arrayContaining([
        { field: 'messageId', constraints: ['isUuid'] },
        { field: 'type', constraints: ['isIn'] },
      ]),
    );
  });

  it('refuses content over 10000 chars and metadata over 2 KB', () => {
    const base = { messageId: uuid, conversationId: 'c1' };
    expect(
      details(() => validatePayload(MessageSendDto, { ...base, content: 'x'.repeat(10001) })),
    ).toEqual([{ field: 'content', constraints: ['maxLength'] }]);
    expect(
      details(() =>
        validatePayload(MessageSendDto, {
          ...base,
          content: 'hi',
          metadata: { a: 'x'.repeat(2100) },
        }),
      ),
    ).toEqual([{ field: 'metadata', constraints: ['maxJsonBytes'] }]);
    expect(
      details(() => validatePayload(MessageSendDto, { ...base, content: 'hi', metadata: [] })),
    ).toEqual([{ field: 'metadata', constraints: ['isObject'] }]);
  });

  it('refuses non-objects, payloads deeper than 8 levels and forbidden keys as $', () => {
    for (const p of [null, 'x', 3, [1]]) {
      expect(details(() => validatePayload(ChannelDto, p))).toEqual([
        { field: '$', constraints: ['isObject'] },
      ]);
    }
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 8; i++) deep = { a: deep };
    expect(details(() => validatePayload(ChannelDto, { channel: 'org:a', ...deep }))).toEqual([
      { field: '$', constraints: ['maxDepth'] },
    ]);
    // Arrays count as a level: 7 objects + 1 array + the innermost object = 9.
    let arr: unknown = { x: 1 };
    for (let i = 0; i < 6; i++) arr = { a: arr };
    expect(details(() => validatePayload(ChannelDto, { channel: 'org:a', l: [arr] }))).toEqual([
      { field: '$', constraints: ['maxDepth'] },
    ]);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const p = JSON.parse(`{"channel":"org:a","nested":{"${key}":{"polluted":true}}}`) as object;
      expect(details(() => validatePayload(ChannelDto, p))).toEqual([
        { field: '$', constraints: ['forbiddenKey'] },
      ]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts exactly 8 levels', () => {
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 5; i++) deep = { a: deep };
    // payload(1) → metadata(2) → 6 nested objects = level 8
    const v = validatePayload(MessageSendDto, {
      messageId: uuid,
      conversationId: 'c1',
      content: 'hi',
      metadata: { a: deep },
    });
    expect(v.content).toBe('hi');
  });
});
