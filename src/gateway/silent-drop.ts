/** Thrown to end an event with `{ok: true, data: {}}` and no effect (typing over its limit). */
export class SilentDrop extends Error {
  constructor() {
    super('dropped');
    this.name = 'SilentDrop';
  }
}
