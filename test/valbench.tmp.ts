import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { MessageSendDto } from '../src/protocol/dto/client.dto.js';
import { validatePayload } from '../src/gateway/validation.js';
const p = { messageId: '3b241101-e2bb-4255-8caf-4136c566a962', conversationId: 'c-123', content: 'hello there how are you', metadata: { a: 1 } };
const opts = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, validationError: { target: false, value: true } };
function bench(name: string, fn: () => unknown) {
  for (let i = 0; i < 2000; i++) fn();
  const n = 50000; const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  console.log(name, ((performance.now() - t) / n * 1000).toFixed(2), 'µs/op');
}
bench('validatePayload', () => validatePayload(MessageSendDto, p));
bench('plainToInstance only', () => plainToInstance(MessageSendDto, p));
bench('validateSync only', () => validateSync(Object.assign(new MessageSendDto(), p), opts));
bench('assign+validateSync', () => validateSync(Object.assign(Object.create(MessageSendDto.prototype), p), opts));
