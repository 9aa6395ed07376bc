/**
 * A path to run a binary from that is a sealed in-memory copy of it (src/native/sealed-copy.c):
 * `/proc/<daemon pid>/fd/<n>`, which any process of the host's root can exec for as long as the
 * daemon holds the descriptor. Given to conmon as the runtime, it spares `runc init` its own copy
 * of runc at every create and exec (see the addon). The copy is made again when the file on disk
 * changes (a runc upgrade); the old descriptor stays open, since a conmon may be about to exec it.
 * Anything but an ELF binary (a wrapper script), or no addon, runs from its own path.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { loadAddon } from './native-path.js';

const copies = new Map<string, { identity: string; path: string }>();

function identityOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

function isElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The sealed copy's path for the binary at (absolute) `path`, or `path` itself. */
export function sealedBinaryPath(path: string): string {
  const addon = loadAddon<{ sealedCopy(path: string): number }>('sealed-copy.node');
  if (!addon) return path;
  const identity = identityOf(path);
  if (!identity) return path;
  const known = copies.get(path);
  if (known?.identity === identity) return known.path;
  if (!isElf(path)) return path;
  const fd = addon.sealedCopy(path);
  // The file changed while it was copied: run it from disk this time, copy it at the next call.
  if (fd < 0 || identityOf(path) !== identity) return path;
  const copy = { identity, path: `/proc/${process.pid}/fd/${fd}` };
  copies.set(path, copy);
  return copy.path;
}
