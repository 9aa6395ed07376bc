/**
 * Hands the heap memory the daemon has freed back to the kernel: glibc's malloc_trim, through the
 * addon src/native/malloc-trim.c. glibc keeps freed memory resident unless it lies at the top of
 * the heap, and node never asks for it back: after a pull (its socket reads, the extraction
 * threads' buffers) wharfd stayed 80-100 MB above its idle size for good. Called when such a
 * burst is over (layer/extract-pool.ts, when an idle extraction worker ends) and when the API has
 * been quiet for a while (trimWhenQuiet, wired to the API server by daemon/daemon.ts).
 */
import { loadAddon } from './native-path.js';

const load = () => loadAddon<{ mallocTrim(): boolean }>('malloc-trim.node');

/** Whether the addon is built (the daemon says so at start when it is not). */
export function canReturnFreedMemory(): boolean {
  return load() !== null;
}

/** Returns freed memory to the kernel; true if there was some to return. */
export function returnFreedMemory(): boolean {
  return load()?.mallocTrim() ?? false;
}

/** How long the daemon's API stays quiet before what it freed goes back (trimWhenQuiet). */
export const QUIET_TRIM_MS = 5000;

/**
 * A trim once the daemon has gone quiet: every `activity()` (an API request that ended) re-arms
 * one timer, and `quietMs` without any returns what the burst freed (a stream's buffers, a
 * build's, many requests' garbage). A trim with nothing to return costs well under a millisecond.
 */
export function trimWhenQuiet(quietMs = QUIET_TRIM_MS): { activity(): void; stop(): void } {
  if (!canReturnFreedMemory()) return { activity: () => {}, stop: () => {} };
  const timer = setTimeout(() => returnFreedMemory(), quietMs);
  timer.unref();
  let stopped = false;
  return {
    // refresh() re-arms a timer that has already fired, too.
    activity: () => void (stopped || timer.refresh()),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
