export const OPTIONAL_PAYLOAD = 'realtime:optional-payload';
/** Marks a DTO whose whole payload may be omitted (e.g. `presence:query`). */
export const OptionalPayload = (): ClassDecorator => (target) => {
  Reflect.defineMetadata(OPTIONAL_PAYLOAD, true, target);
};
