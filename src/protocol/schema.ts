/**
 * JSON Schema for the docs (docs/events.md, docs/asyncapi.yaml, docs/openapi.json): the small
 * subset the catalog needs, builders for the shapes written by hand (acks, server payloads,
 * models), and `dtoSchema`, which reads a payload's schema from its DTO class's class-validator
 * decorators — the very rules the validation pipe applies, so a payload is defined once.
 */
import { getMetadataStorage } from 'class-validator';

/** The subset of JSON Schema (draft 07, as AsyncAPI 3 uses it) the catalog needs. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: readonly unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  oneOf?: Schema[];
  $ref?: string;
  description?: string;
}

declare const DESCRIBES: unique symbol;

/**
 * A schema the compiler knows describes values of type `T` (a type-only mark, nothing at run
 * time). Invariant in `T`, and in `Required<T>` so that a property the type has and the schema
 * lacks (or the reverse), optional or not, is a compile error where the catalog says which type
 * a schema must describe.
 */
export interface Typed<T> extends Schema {
  readonly [DESCRIBES]?: { exact: (value: T) => T; keys: (value: Required<T>) => Required<T> };
}

/** The type a `Typed` schema describes. */
export type TypeOf<S> = S extends Typed<infer T> ? T : never;

/** A closed object: every property required except those named in `optional`. */
export function obj(properties: Record<string, Schema>, optional: string[] = []): Schema {
  const required = Object.keys(properties).filter((k) => !optional.includes(k));
  return {
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
}

// ─── client payloads: from the DTOs' class-validator metadata ─────────────────────────────

/** A DTO class (class-validator decorated, constructible without arguments). */
export type DtoClass = new () => object;

type ValidationMetadata = ReturnType<
  ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']
>[number];

/**
 * How each validator a DTO uses shows in the schema. `each: true` validators describe the array
 * items. A validator missing here makes `dtoSchema` throw: a new constraint cannot silently
 * disappear from the docs. The custom ones (validators.ts) say in words what JSON Schema cannot.
 */
const CONSTRAINTS: Record<string, (c: unknown[], s: Schema) => void> = {
  isString: (_c, s) => void (s.type = 'string'),
  isInt: (_c, s) => void (s.type = 'integer'),
  isBoolean: (_c, s) => void (s.type = 'boolean'),
  isObject: (_c, s) => void (s.type = 'object'),
  isArray: (_c, s) => void (s.type = 'array'),
  isUuid: (c, s) => {
    s.type = 'string';
    s.format = 'uuid';
    if (c[0] === '4') note(s, 'uuid v4');
  },
  isIso8601: (_c, s) => {
    s.type = 'string';
    s.format = 'date-time';
  },
  matches: (c, s) => void (s.pattern = (c[0] as RegExp).source),
  isIn: (c, s) => {
    s.type = 'string';
    s.enum = c[0] as unknown[];
  },
  minLength: (c, s) => void (s.minLength = c[0] as number),
  maxLength: (c, s) => void (s.maxLength = c[0] as number),
  min: (c, s) => void (s.minimum = c[0] as number),
  max: (c, s) => void (s.maximum = c[0] as number),
  arrayMinSize: (c, s) => void (s.minItems = c[0] as number),
  arrayMaxSize: (c, s) => void (s.maxItems = c[0] as number),
  // validators.ts
  maxJsonBytes: (c, s) => note(s, `at most ${c[0] as number} bytes as JSON`),
  // §12.3: no C0 control character except tab, LF, CR (in keys and string values too).
  noControlCharacters: (_c, s) => note(s, 'no control characters except tab, LF, CR'),
};

/** Validators about the array itself, even when declared with `each`. */
const ARRAY_LEVEL = new Set(['isArray', 'arrayMinSize', 'arrayMaxSize']);

function note(s: Schema, text: string): void {
  s.description = s.description ? `${s.description}; ${text}` : text;
}

/** JSON Schema of a DTO class, read from its class-validator decorators (the validation itself). */
export function dtoSchema(dto: DtoClass): Schema {
  const metas: ValidationMetadata[] = getMetadataStorage().getTargetValidationMetadatas(
    dto,
    '',
    true,
    false,
  );
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const m of metas)
    byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m]);
  const props: Record<string, Schema> = {};
  const optional: string[] = [];
  for (const [name, own] of byProperty) {
    const s: Schema = {};
    const item: Schema = {};
    for (const m of own) {
      const validator = m.name ?? '';
      if (validator === 'isOptional') optional.push(name);
      else if (validator === 'isDefined')
        continue; // required: the default
      else if (validator === '' && m.type === 'whitelistValidation')
        optional.push(name); // @Allow()
      else {
        const apply = CONSTRAINTS[validator];
        if (!apply)
          throw new Error(
            `${dto.name}.${name}: no schema mapping for validator "${validator}" (${m.type})`,
          );
        const onItems = m.each && !ARRAY_LEVEL.has(validator);
        apply((m.constraints ?? []) as unknown[], onItems ? item : s);
      }
    }
    if (s.type === 'array') s.items = { type: 'string', ...item };
    props[name] = s;
  }
  return obj(props, optional);
}
