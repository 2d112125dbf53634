import { isObject, isUUID, maxLength, minLength } from 'class-validator';
import { assertSafePayload } from './payload-guard.js';
import { LOOKUP_ID, MAX_CONTENT_CHARS, MAX_METADATA_BYTES, MessageSendDto } from './client.dto.js';
import { CONTROL_CHARACTERS, freeOfControlCharacters, jsonBytesWithin } from './validators.js';
const SEND_KEYS = new Set(['messageId', 'conversationId', 'content', 'type', 'metadata']);

/**
 * A fast acceptance check for the hottest event, `message:send`: true only for a payload that
 * `MessageSendDto` certainly accepts (same class-validator functions, same whitelist). Anything
 * else goes through the full DTO validation, which produces the exact `VALIDATION_ERROR`
 * details, so the contract's errors come from one place. A test checks that this never accepts
 * what the DTO refuses.
 */
export function isValidMessageSend(payload: unknown): payload is MessageSendDto {
  if (typeof payload !== 'object' || payload === null) return false;
  if (Object.getPrototypeOf(payload) !== Object.prototype) return false;
  const p = payload as Record<string, unknown>;
  for (const key in p) if (!SEND_KEYS.has(key)) return false;
  if (typeof p.messageId !== 'string' || !isUUID(p.messageId, '4')) return false;
  if (typeof p.conversationId !== 'string' || !LOOKUP_ID.test(p.conversationId)) return false;
  const content = p.content;
  if (
    typeof content !== 'string' ||
    !minLength(content, 1) ||
    !maxLength(content, MAX_CONTENT_CHARS) ||
    CONTROL_CHARACTERS.test(content)
  )
    return false;
  if (p.type !== undefined && p.type !== 'text') return false;
  if (p.metadata !== undefined) {
    if (!isObject(p.metadata)) return false;
    if (!jsonBytesWithin(p.metadata, MAX_METADATA_BYTES)) return false;
    if (!freeOfControlCharacters(p.metadata)) return false;
    try {
      assertSafePayload(payload);
    } catch {
      return false;
    }
  }
  return true;
}
