import { constants } from 'node:os';
import { invalidParameter } from './errors.js';

const byName = constants.signals as Record<string, number>;

/**
 * Parses a signal as Docker (moby/sys/signal) does: a non-zero integer of any range (isLinuxSignal
 * says whether Linux has it), or a name with or without the SIG prefix, in any case ("KILL",
 * "sigterm", "RTMIN+3"). Throws Docker's `invalid signal: x` otherwise.
 */
export function parseSignal(raw: string | number): number {
  if (typeof raw === 'number' || /^[+-]?\d+$/.test(raw)) {
    const n = Number(raw);
    if (n !== 0 && Number.isSafeInteger(n)) return n;
    throw invalidParameter(`invalid signal: ${raw}`);
  }
  const upper = raw.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith('SIGRTMIN') ? 34 + off : 64 - off;
    if (n >= 34 && n <= 64) return n;
  }
  const n = byName[name];
  if (n === undefined) throw invalidParameter(`invalid signal: ${raw}`);
  return n;
}

/** Whether Linux has signal `n`: 1-31 and the real-time 34-64, as moby's ValidSignalForPlatform. */
export function isLinuxSignal(n: number): boolean {
  return Number.isInteger(n) && ((n >= 1 && n <= 31) || (n >= 34 && n <= 64));
}
