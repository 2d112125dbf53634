import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { validatePayload } from '../gateway/validation.js';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array, undefined]);

/**
 * Validates HTTP bodies with the same rules and the same `[{field, constraints}]` details as the
 * WebSocket payloads (whitelisting, depth, forbidden keys): 400 VALIDATION_ERROR.
 */
@Injectable()
export class HttpValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || PRIMITIVES.has(metadata.metatype)) return value;
    return validatePayload(metadata.metatype as new () => object, value);
  }
}
