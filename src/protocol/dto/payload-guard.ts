import { FORBIDDEN_KEYS, MAX_PAYLOAD_DEPTH } from '../constants.js';
import { AppError } from '../errors.js';

const FORBIDDEN = new Set<string>(FORBIDDEN_KEYS);

/**
 * Refuses payloads deeper than 8 levels (the payload object is level 1, arrays count) and any
 * `__proto__` / `constructor` / `prototype` key, before anything copies the object (§8, §11).
 */
export function assertSafePayload(payload: unknown, maxDepth = MAX_PAYLOAD_DEPTH): void {
  const stack: Array<[unknown, number]> = [[payload, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) throw AppError.validation([{ field: '$', constraints: ['maxDepth'] }]);
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth + 1]);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN.has(key))
        throw AppError.validation([{ field: '$', constraints: ['forbiddenKey'] }]);
      stack.push([(value as Record<string, unknown>)[key], depth + 1]);
    }
  }
}
