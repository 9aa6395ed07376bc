/**
 * Runs a long synchronous computation written as a generator (one that yields only to pause) in
 * slices of the event loop's time: after `sliceMs` of work it waits for the loop's next turn, so
 * the daemon answers other requests meanwhile.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export async function runSliced<T>(gen: Generator<void, T>, sliceMs = 10): Promise<T> {
  let start = performance.now();
  for (let n = 1; ; n++) {
    const r = gen.next();
    if (r.done) return r.value;
    // Reading the clock costs more than a short step; look at it every 64 steps.
    if ((n & 63) === 0 && performance.now() - start >= sliceMs) {
      await nextTurn();
      start = performance.now();
    }
  }
}
