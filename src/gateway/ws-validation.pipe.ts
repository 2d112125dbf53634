import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { OPTIONAL_PAYLOAD } from './optional-payload.js';
import { validatePayload } from './validation.js';

const PRIMITIVES = new Set<unknown>([String, Number, Boolean, Object, Array, undefined]);

/** The one WebSocket validation pipe: every `@MessageBody()` with a DTO type goes through it. */
@Injectable()
export class WsValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || PRIMITIVES.has(metadata.metatype)) return value;
    const dto = metadata.metatype as new () => object;
    return validatePayload(dto, value, Reflect.getMetadata(OPTIONAL_PAYLOAD, dto) === true);
  }
}
