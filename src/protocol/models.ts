/** Wire shapes of §6: defined once in the SDK package (packages/client/src/protocol/models.ts). */
export * from '@white-cross/realtime-client/protocol/models';
