import { registerDecorator, type ValidationOptions } from 'class-validator';

/** True when `value` serializes to at most `max` bytes of JSON (undefined: nothing to check). */
export function jsonBytesWithin(value: unknown, max: number): boolean {
  if (value === undefined) return true;
  try {
    return Buffer.byteLength(JSON.stringify(value), 'utf8') <= max;
  } catch {
    return false;
  }
}

/** `metadata` and similar free-form objects: at most `max` bytes once serialized as JSON. */
export function MaxJsonBytes(max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'maxJsonBytes',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [max],
      options: { message: `$property must serialize to at most ${max} bytes of JSON`, ...options },
      validator: {
        validate: (value: unknown) => jsonBytesWithin(value, max),
      },
    });
  };
}

/**
 * C0 control characters except tab, LF and CR (§12.3): U+0000 in particular, which PostgreSQL
 * refuses in text and jsonb, so one such value used to fail a whole batch of other users' writes.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

/** True when no string in `value` (the value itself, or any key or string inside) has a C0 control character. */
export function freeOfControlCharacters(value: unknown): boolean {
  if (typeof value === 'string') return !CONTROL_CHARACTERS.test(value);
  if (typeof value !== 'object' || value === null) return true;
  // Payload depth is limited (assertSafePayload) before this runs, so a stack walk is bounded.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (CONTROL_CHARACTERS.test(v)) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        if (CONTROL_CHARACTERS.test(key)) return false;
        stack.push(item);
      }
    }
  }
  return true;
}

/**
 * Text fields and free-form objects (`metadata`, `data`): no C0 control character other than tab,
 * LF and CR in the string, or in any key or string value inside the object (§12.3). Constraint
 * name `noControlCharacters`.
 */
export function NoControlCharacters(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'noControlCharacters',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not contain control characters', ...options },
      validator: { validate: (value: unknown) => freeOfControlCharacters(value) },
    });
  };
}
