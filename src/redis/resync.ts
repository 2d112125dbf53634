/**
 * Keeps a node's view in Redis in step with what it holds locally (presence, connection slots):
 * `markDirty` after a write that failed, `run` to make Redis agree again. Runs are coalesced: at
 * most one at a time, plus one more if asked again meanwhile; a run that throws leaves it dirty.
 */
export class Resync {
  private dirty = false;
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly once: () => Promise<void>) {}

  /** Something may differ between Redis and this node (a write failed). */
  get needed(): boolean {
    return this.dirty;
  }

  markDirty(): void {
    this.dirty = true;
  }

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const loop = async (): Promise<void> => {
      do {
        this.again = false;
        this.dirty = false;
        try {
          await this.once();
        } catch (err) {
          this.dirty = true;
          throw err;
        }
      } while (this.again);
    };
    this.running = loop().finally(() => (this.running = undefined));
    return this.running;
  }
}
