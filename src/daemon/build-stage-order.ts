/**
 * The classic builder's output when its stages run side by side: Docker's classic builder builds
 * them one after another, so its output is each stage's in turn, and a failed stage's error
 * comes before anything of the stages after it. The lowest stage not yet done writes through; a
 * later one's output is held until every stage before it is done, and nothing of a stage after
 * a failed one is ever shown. A stage whose held output passes HELD_LIMIT waits (room()) until it
 * is shown, so memory stays bounded whatever the stages print.
 */

/** Output a stage may hold while stages before it run. */
export const HELD_LIMIT = 1 << 20;

type StageStatus = 'running' | 'done' | 'failed';

export class StageOrder {
  private live = 0;
  private readonly status: StageStatus[];
  private readonly held: Array<Array<() => void>>;
  private readonly heldBytes: number[];
  /** Resolved when stage i is shown (its held output written), for a stage waiting for room. */
  private readonly shown: Array<{ promise: Promise<void>; resolve: () => void }>;

  constructor(private readonly count: number) {
    this.status = Array.from({ length: count }, () => 'running');
    this.held = Array.from({ length: count }, () => []);
    this.heldBytes = Array.from({ length: count }, () => 0);
    this.shown = Array.from({ length: count }, () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    if (count > 0) this.shown[0]!.resolve();
  }

  /** Stage i's next piece of output (`bytes` long): written now if it is shown, else held; dropped after a failure before it. */
  write(i: number, bytes: number, write: () => void): void {
    if (i === this.live) write();
    else if (i > this.live && this.live < this.count) {
      this.held[i]!.push(write);
      this.heldBytes[i]! += bytes;
    }
  }

  /** Waits while stage i may not write more: `clientRoom` once it is shown, else until its held output is small. */
  async room(i: number, clientRoom: () => Promise<void>): Promise<void> {
    if (i !== this.live && this.heldBytes[i]! >= HELD_LIMIT) await this.shown[i]!.promise;
    if (i === this.live) await clientRoom();
  }

  /** Stage i ended (or never ran): later stages are shown as it allows. */
  finish(i: number, failed: boolean): void {
    this.status[i] = failed ? 'failed' : 'done';
    this.advance();
  }

  private advance(): void {
    while (this.live < this.count) {
      const status = this.status[this.live]!;
      if (status === 'running') return;
      if (status === 'failed') {
        // Nothing after a failed stage is shown; stages waiting for room go on and are dropped.
        this.live = this.count;
        for (const s of this.shown) s.resolve();
        for (const h of this.held) h.length = 0;
        return;
      }
      this.live++;
      if (this.live === this.count) return;
      const held = this.held[this.live]!;
      this.held[this.live] = [];
      this.heldBytes[this.live] = 0;
      for (const write of held) write();
      this.shown[this.live]!.resolve();
    }
  }
}
