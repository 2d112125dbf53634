import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { ID_PATTERN } from '../protocol/constants.js';
import { AppError, type ValidationDetail } from '../protocol/errors.js';
import { assertSafePayload } from '../protocol/dto/payload-guard.js';

type Ctor<T> = new () => T;

/**
 * Element checks for `{each: true}` validators, so that a bad array element is reported as
 * `field.N` (§11). DTOs use `each` only with these constraints.
 */
const ELEMENT_CHECKS: Record<string, (v: unknown) => boolean> = {
  isString: (v) => typeof v === 'string',
  matches: (v) => typeof v === 'string' && ID_PATTERN.test(v),
  isIn: () => true,
};

/** §12.3: a VALIDATION_ERROR carries at most this many details. */
export const MAX_VALIDATION_DETAILS = 20;

function flatten(
  errors: ValidationError[],
  prefix = '',
  out: ValidationDetail[] = [],
): ValidationDetail[] {
  for (const e of errors) {
    if (out.length >= MAX_VALIDATION_DETAILS) break;
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const names = Object.keys(e.constraints ?? {});
    const messages = e.constraints ?? {};
    const eachNames = names.filter((n) => messages[n]?.startsWith('each value in'));
    const plain = names.filter((n) => !eachNames.includes(n));
    if (plain.length > 0) out.push({ field, constraints: plain });
    // An array over its size limit is reported once, not per element (§12.3).
    if (plain.includes('arrayMaxSize')) continue;
    if (eachNames.length > 0 && Array.isArray(e.value)) {
      const before = out.length;
      const items = e.value as unknown[];
      for (let i = 0; i < items.length && out.length < MAX_VALIDATION_DETAILS; i++) {
        const failed = eachNames.filter((n) => !(ELEMENT_CHECKS[n] ?? (() => false))(items[i]));
        if (failed.length > 0) out.push({ field: `${field}.${i}`, constraints: failed });
      }
      if (out.length === before) out.push({ field, constraints: eachNames });
    } else if (eachNames.length > 0) {
      out.push({ field, constraints: eachNames });
    }
    if (e.children && e.children.length > 0) flatten(e.children, field, out);
  }
  return out.slice(0, MAX_VALIDATION_DETAILS);
}

/**
 * Validates a client payload against its DTO: safe shape first, then class-validator with
 * whitelisting (unknown properties refused). Details never contain the submitted value.
 */
export function validatePayload<T extends object>(
  dto: Ctor<T>,
  payload: unknown,
  optional = false,
): T {
  if (payload === undefined && optional) payload = {};
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw AppError.validation([{ field: '$', constraints: ['isObject'] }]);
  }
  assertSafePayload(payload);
  const instance = plainToInstance(dto, payload, { enableImplicitConversion: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
  });
  if (errors.length > 0) throw AppError.validation(flatten(errors));
  return instance;
}
