import { constants } from 'node:os';
import { invalidParameter } from './errors.js';

const byName = constants.signals as Record<string, number>;

/**
 * Parses a signal as Docker accepts it: a number, or a name with or without the SIG prefix,
 * in any case ("KILL", "sigterm", "9"). Throws Docker's `Invalid signal: x` otherwise.
 */
export function parseSignal(raw: string | number): number {
  if (typeof raw === 'number' || /^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n > 0 && n < 65) return n;
    throw invalidParameter(`Invalid signal: ${raw}`);
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
  if (n === undefined) throw invalidParameter(`Invalid signal: ${raw}`);
  return n;
}
