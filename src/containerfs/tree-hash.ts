/**
 * The content hash of a file tree that the classic builder puts in a COPY/ADD step's command
 * (`file:<sha256>`, `dir:<sha256>`), as Docker's tarsum: each entry's name, type, mode, owner,
 * link target and contents, in name order, but not mtimes. Synchronous, for the daemon's walk
 * worker (walk-pool.ts): a context of small files is mostly file calls.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { systemError } from '../lib/errors.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';
import { fdPath, O_PATH } from './root.js';

/** `file:<hex>` or `dir:<hex>` for the entry at `at` (an fd path); undefined when it is gone. */
export function treeHash(at: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(at);
  } catch {
    return undefined;
  }
  const h = createHash('sha256');
  hashEntry(at, '', st, h, Buffer.allocUnsafe(256 * 1024), 0);
  return `${st.isDirectory() ? 'dir' : 'file'}:${h.digest('hex')}`;
}

function hashEntry(at: string, name: string, st: Stats, h: Hash, buf: Buffer, depth: number): void {
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
  h.update(`${name}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}\0${st.gid}\0`);
  if (type === 'l') h.update(readlinkSync(at));
  else if (type === 'f') {
    h.update(`${st.size}\0`);
    // O_NONBLOCK: should the entry have become a FIFO since its lstat, open(2) must not wait for a writer.
    const fd = openSync(at, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  } else if (type === 'd') {
    // Each level holds its directory open: a nesting past the bound fails, as PATH_MAX fails Docker's walk.
    if (depth >= MAX_TREE_DEPTH) throw systemError(tooDeep(name));
    const dir = openSync(at, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    try {
      for (const n of readdirSync(fdPath({ fd: dir })).sort()) {
        const cat = fdPath({ fd: dir }, n);
        let cst: Stats;
        try {
          cst = lstatSync(cat);
        } catch {
          continue;
        }
        hashEntry(cat, `${name}/${n}`, cst, h, buf, depth + 1);
      }
    } finally {
      closeSync(dir);
    }
  }
  h.update('\n');
}
