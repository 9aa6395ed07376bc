/**
 * Detach keys (`ctrl-p,ctrl-q` by default), parsed as Docker does. The daemon ends an attach
 * on them; the CLI watches its own input for them too, as Docker's CLI does, so it knows at
 * once that it detached (and does not wait for the container).
 */
import { invalidParameter } from './errors.js';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** moby/term's names of the control characters 0-31, in code order. */
const CTRL_NAMES = ['@', ...'abcdefghijklmnopqrstuvwxyz', '[', '\\', ']', '^', '_'].map((c) => `ctrl-${c}`);

/**
 * Parses `ctrl-p,ctrl-q` / `a,ctrl-@` style detach keys as moby/term's ToBytes does: each key is
 * one byte or a control character's exact lower-case name (`ctrl-A` is no key), or `DEL`.
 */
export function parseDetachKeys(spec: string | undefined): Buffer {
  if (!spec) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const key of spec.split(',')) {
    if (Buffer.byteLength(key) === 1) out.push(key.charCodeAt(0));
    else if (CTRL_NAMES.includes(key)) out.push(CTRL_NAMES.indexOf(key));
    else if (key === 'DEL') out.push(127);
    else throw invalidParameter(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(out);
}

/**
 * Finds the detach sequence in a stream of input, chunk by chunk: bytes that may start it are
 * held back until it completes (then they are swallowed) or breaks (then they are passed on).
 */
export class DetachKeyScanner {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /** The bytes to pass on, and whether the sequence completed (input after it is dropped). */
  scan(chunk: Buffer): { pass: Buffer; detached: boolean } {
    const keys = this.keys;
    if (keys.length === 0) return { pass: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[this.matched]) {
        this.matched++;
        if (this.matched === keys.length) {
          this.matched = 0;
          return { pass: Buffer.from(out), detached: true };
        }
        continue;
      }
      if (this.matched) out.push(...keys.subarray(0, this.matched));
      this.matched = b === keys[0] ? 1 : 0;
      if (!this.matched) out.push(b);
    }
    return { pass: Buffer.from(out), detached: false };
  }
}
