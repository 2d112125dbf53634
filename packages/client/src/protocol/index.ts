/**
 * The wire contract as TypeScript: the one typed event map (client→server payloads and ack data,
 * server→client payloads), the models and the §8 error object. The server imports these from
 * here (`@white-cross/realtime-client/protocol/*`), so server, SDK, tests and bench share one source.
 */
export * from './constants.js';
export * from './errors.js';
export * from './events.js';
export * from './models.js';
