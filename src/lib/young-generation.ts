/**
 * Keeps V8's young generation at its initial size (1 MB semi-spaces) instead of letting it grow
 * to 16 MB ones. V8 grows it under any sustained allocation (a long attach or logs stream, a
 * pull) and keeps both semi-spaces resident afterwards: that was +32 MB of the daemon's RSS after
 * one slow client read 300 MB of attach output (bench/stream-bench.ts), and every later fork (a
 * `run` spawns runc, conmon, mount...) then copies the larger page tables. A daemon's garbage is
 * short-lived requests and stream chunks: a small nursery scavenges it just as well.
 *
 * `--max-semi-space-size` says the same but only on node's command line. The growth factor is
 * read each time V8 would grow the space, so it works when set at run time; a worker thread's
 * start-up resets V8's flags, so whoever starts one calls this again once it is online.
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
