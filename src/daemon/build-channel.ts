/** The build's message queue between the builder and the route, with backpressure for the producer. */
import type { ProgressMessage } from '../api/types.js';

/** A queue of messages the build produces and the route consumes. */
export class Channel {
  private readonly items: ProgressMessage[] = [];
  private wake: (() => void) | null = null;
  private roomWaiters: Array<() => void> = [];
  /** Messages kept before a producer that asks for room waits (a client that reads slowly or never). */
  static readonly HIGH_WATER = 256;
  /** Resolves once the consumer has taken messages below the high-water mark (or stopped). */
  room(): Promise<void> {
    if (this.items.length < Channel.HIGH_WATER || this.done) return Promise.resolve();
    return new Promise((r) => this.roomWaiters.push(r));
  }
  private freeRoom(): void {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const r of w) r();
  }
  private done = false;
  private error: unknown = null;
  push(m: ProgressMessage): void {
    this.items.push(m);
    this.wake?.();
  }
  end(err?: unknown): void {
    this.done = true;
    this.freeRoom();
    if (err !== undefined) this.error = err;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<ProgressMessage> {
    try {
      yield* this.drain();
    } finally {
      // The consumer stopped: producers must not wait for room any more.
      this.done = true;
      this.freeRoom();
    }
  }

  private async *drain(): AsyncGenerator<ProgressMessage> {
    for (;;) {
      while (this.items.length) {
        const m = this.items.shift()!;
        if (this.items.length < Channel.HIGH_WATER / 2) this.freeRoom();
        yield m;
      }
      if (this.done) {
        if (this.error !== null) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

