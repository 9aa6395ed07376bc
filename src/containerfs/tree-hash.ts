/**
 * The content hash of a file tree that the classic builder puts in a COPY/ADD step's command
 * (`file:<sha256>`, `dir:<sha256>`), as Docker's tarsum: each entry's name, type, mode, owner,
 * link target and contents, in name order, but not mtimes. Synchronous, for the daemon's walk
 * worker (walk-pool.ts): a context of small files is mostly file calls. The walk is a generator
 * that stops after each entry and each chunk of a file, so the worker can hash in time slices
 * and serve its other jobs between them (`treeHashSteps`); `treeHash` runs it through at once.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { systemError } from '../lib/errors.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';
import { O_PATH } from './root.js';
import { fdPath } from '../lib/fd-path.js';
import { CopyFilter, filters, type CopyFilterSpec } from './copy-filter.js';

const CHUNK = 256 * 1024;

/** What the walk holds open: a directory whose children are being hashed, or a file being read. */
/** A directory's `held` entry: filtered out itself, hashed only once something below it is taken (as the copy makes it then). */
type Frame = { kind: 'dir'; fd: number; names: string[]; name: string; depth: number; held: string | null } | { kind: 'file'; fd: number };

/**
 * `file:<hex>` or `dir:<hex>` for the entry at `at` (an fd path); undefined when it is gone. With
 * `filter`, of what a filtered COPY takes: a directory it walks only for what is below it counts
 * only when something below it is taken.
 */
export function treeHash(at: string, filter?: CopyFilterSpec): string | undefined {
  const steps = treeHashSteps(at, filter);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** treeHash() one entry or file chunk per step; its return value is the hash. Closes what it holds when abandoned. */
export function* treeHashSteps(at: string, filterSpec?: CopyFilterSpec): Generator<void, string | undefined> {
  let st: Stats;
  try {
    st = lstatSync(at);
  } catch {
    return undefined;
  }
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  // A stack of its own, as the tar walk keeps: recursion ~2,000 levels deep is near the stack's end.
  const stack: Frame[] = [];
  const filter = filters(filterSpec) ? new CopyFilter(filterSpec) : null;
  const enter = (path: string, name: string, est: Stats, depth: number, taken = true): void => {
    const type = est.isDirectory() ? 'd' : est.isSymbolicLink() ? 'l' : est.isFile() ? 'f' : 'o';
    const own = `${name}\0${type}\0${(est.mode & 0o7777).toString(8)}\0${est.uid}\0${est.gid}\0`;
    if (taken) {
      for (const f of stack) {
        if (f.kind !== 'dir' || f.held === null) continue;
        h.update(f.held);
        f.held = null;
      }
      h.update(own);
    }
    if (type === 'l') h.update(readlinkSync(path));
    if (type === 'f') {
      h.update(`${est.size}\0`);
      // O_NONBLOCK: should the entry have become a FIFO since its lstat, open(2) must not wait for a writer.
      stack.push({ kind: 'file', fd: openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK) });
      return; // its '\n' comes after its contents
    }
    if (type === 'd') {
      // Each level holds its directory open: a nesting past the bound fails, as PATH_MAX fails Docker's walk.
      if (depth >= MAX_TREE_DEPTH) throw systemError(tooDeep(name));
      const fd = openSync(path, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
      let names: string[];
      try {
        names = readdirSync(fdPath({ fd })).sort().reverse();
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      stack.push({ kind: 'dir', fd, names, name, depth, held: taken ? null : own });
      return; // its '\n' comes after its children
    }
    h.update('\n');
  };
  try {
    enter(at, '', st, 0);
    while (stack.length) {
      yield;
      const top = stack[stack.length - 1]!;
      if (top.kind === 'file') {
        const n = readSync(top.fd, buf, 0, buf.length, null);
        if (n > 0) {
          h.update(buf.subarray(0, n));
          continue;
        }
      } else {
        const child = top.names.pop();
        if (child !== undefined) {
          const cat = fdPath({ fd: top.fd }, child);
          let cst: Stats;
          try {
            cst = lstatSync(cat);
          } catch {
            continue;
          }
          const name = `${top.name}/${child}`;
          const verdict = filter ? filter.judge(name.slice(1), cst.isDirectory()) : 'take';
          if (verdict !== 'skip') enter(cat, name, cst, top.depth + 1, verdict === 'take');
          continue;
        }
      }
      stack.pop();
      closeSync(top.fd);
      if (top.kind === 'file' || top.held === null) h.update('\n');
    }
  } finally {
    for (const frame of stack.splice(0)) closeSync(frame.fd);
  }
  return `${st.isDirectory() ? 'dir' : 'file'}:${h.digest('hex')}`;
}
