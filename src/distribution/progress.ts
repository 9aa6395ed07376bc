/**
 * Docker's JSON progress messages: the progress bar string dockerd puts in `progress`
 * (jsonmessage.JSONProgress at its 200-column default width), and a queue that lets
 * concurrent transfers report into one ordered stream.
 */
import type { ProgressMessage } from '../api/types.js';
import { humanSize } from '../lib/units.js';

/** JSONProgress.String() for byte counts without a start time. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(Math.floor(Math.floor((current / total) * 100) / 2), 50);
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(50 - pct, 0))}] `;
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

export function statusMessage(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

export function progressMessage(id: string, status: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/**
 * Byte progress as dockerd's progress reader paces it: a step once more than min(512 KiB, 1% of
 * the total) came since the last one, sent only if 100 ms passed since the last one sent (a rate
 * limiter with a burst of one), and always at the total or the end. So a fast transfer reports
 * about ten times a second, a slow one every 512 KiB; each message also wakes the client.
 */
export class ProgressThrottle {
  private lastStep = 0;
  private lastSent = -Infinity;
  private readonly every: number;
  constructor(
    private readonly emit: (current: number) => void,
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {
    this.every = total > 0 ? Math.min(512 * 1024, Math.floor(total / 100)) : 512 * 1024;
  }
  update(current: number, final = false): void {
    // The total stands for dockerd's read that hits the end of the blob.
    const done = final || current === this.total;
    // A download that started over (the registry ignored the Range) reports from where it is.
    const restarted = current < this.lastStep;
    if (current - this.lastStep <= this.every && !done && !restarted) return;
    this.lastStep = current;
    const now = this.now();
    if (done || now - this.lastSent >= 100) {
      this.lastSent = now;
      this.emit(current);
    }
  }
}

/** Many producers, one consumer: `for await (const m of queue)` until end()/fail(). */
export class MessageQueue implements AsyncIterable<ProgressMessage> {
  private readonly items: ProgressMessage[] = [];
  private waiter: (() => void) | null = null;
  private done = false;
  private error: unknown = null;

  push(m: ProgressMessage): void {
    if (this.done) return;
    this.items.push(m);
    this.wake();
  }
  end(): void {
    this.done = true;
    this.wake();
  }
  fail(err: unknown): void {
    this.error = err;
    this.done = true;
    this.wake();
  }
  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<ProgressMessage> {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}
