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
