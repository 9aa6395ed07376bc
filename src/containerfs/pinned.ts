/**
 * An entry of a tree being walked, pinned by an O_PATH fd (which opens no device) before its
 * type is looked at, so that what is opened for reading is the inode looked at. A running
 * container (it has CAP_MKNOD) could otherwise swap a regular file for a device node between a
 * walk's lstat and its open, and have the daemon open a host device: open(2) of some devices, a
 * watchdog, has effects, and a type check after it comes too late. Synchronous, for the walk
 * worker; openRegularFile (root.ts) does the same on the daemon's thread.
 */
import { closeSync, constants as fsc, fstatSync, openSync, type Stats } from 'node:fs';
import { fdPath } from '../lib/fd-path.js';
import { O_PATH } from './root.js';

export interface Pinned {
  readonly fd: number;
  readonly st: Stats;
}

/** For tests: called with the entry's path between the look at its type and the open of its contents. */
export const pinSeam: { beforeOpen?: (at: string) => void } = {};

/** The entry at `at`, not followed, pinned and stat'ed; null when it is gone. The caller closes `fd`. */
export function pin(at: string): Pinned | null {
  let fd: number;
  try {
    fd = openSync(at, O_PATH | fsc.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    return { fd, st: fstatSync(fd) };
  } catch {
    closeSync(fd);
    return null;
  }
}

/**
 * The pinned regular file opened for reading: the magic link reopens the pinned inode, whatever
 * its name names by now. O_NONBLOCK and O_NOCTTY are kept as a second line.
 */
export function openPinnedFile(p: Pinned, at: string): number {
  if (!p.st.isFile()) throw new Error(`${at}: not a regular file`);
  pinSeam.beforeOpen?.(at);
  return openSync(fdPath(p), fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
}
