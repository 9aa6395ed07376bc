import { randomBytes } from 'node:crypto';

/** A 64-hex-digit ID, as Docker gives containers and execs. */
export function generateId(): string {
  return randomBytes(32).toString('hex');
}

/** The 12-character short form Docker prints. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
