/** The one disk-usage walk (container RW layers, volumes, build cache mounts, /system/df). */
import { closeSync, constants as fsc, lstatSync, openSync, readdirSync, type Stats } from 'node:fs';
import { fdPath } from './fd-path.js';
import { MAX_TREE_DEPTH } from './tree-depth.js';


/**
 * The bytes below `root` as Docker's directory.Size counts them: every entry but directories,
 * by its lstat size, each inode once (hardlinks count once). Unreadable entries are skipped.
 * Walked through directory fds and never through a link, so a container that swaps one of its
 * directories for a link meanwhile cannot send the walk onto the host; depth-first with a stack
 * of its own, so no depth of nesting overflows the call stack, and no deeper than MAX_TREE_DEPTH.
 * Synchronous: the daemon runs it on its file tree worker (containerfs/walk-pool.ts).
 */
export function dirSize(root: string): number {
  const seen = new Set<number>();
  let total = 0;
  const open = (at: string, follow: boolean): { fd: number; names: string[] } | null => {
    let fd: number;
    try {
      fd = openSync(at, fsc.O_RDONLY | fsc.O_DIRECTORY | (follow ? 0 : fsc.O_NOFOLLOW));
    } catch {
      return null;
    }
    try {
      return { fd, names: readdirSync(fdPath({ fd })) };
    } catch {
      closeSync(fd);
      return null;
    }
  };
  const first = open(root, true);
  const stack = first ? [first] : [];
  try {
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const name = top.names.pop();
      if (name === undefined) {
        closeSync(stack.pop()!.fd);
        continue;
      }
      const at = fdPath(top, name);
      let st: Stats;
      try {
        st = lstatSync(at);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (stack.length >= MAX_TREE_DEPTH) continue;
        const sub = open(at, false);
        if (sub) stack.push(sub);
        continue;
      }
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      total += st.size;
    }
  } finally {
    for (const d of stack) closeSync(d.fd);
  }
  return total;
}
