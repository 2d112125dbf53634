/**
 * The typed event map lives in the SDK package (packages/client/src/protocol/events.ts), the one
 * source for server, SDK, tests and bench; re-exported here so server code imports it as before.
 */
export * from '@white-cross/realtime-client/protocol/events';
