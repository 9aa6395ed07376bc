/**
 * The content hash of a file tree that the classic builder puts in a COPY/ADD step's command
 * (`file:<sha256>`, `dir:<sha256>`), as Docker's tarsum: each entry's name, type, mode, owner,
 * link target and contents, in name order, but not mtimes. Synchronous, for the daemon's walk
 * worker (walk-pool.ts): a context of small files is mostly file calls. The walk is a generator
 * that stops after each entry and each chunk of a file, so the worker can hash in time slices
 * and serve its other jobs between them (`treeHashSteps`); `treeHash` runs it through at once.
 */
import { createHash } from 'node:crypto';
import { closeSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { systemError } from '../lib/errors.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';
import { fdPath } from '../lib/fd-path.js';
import { openPinnedFile, pin, type Pinned } from './pinned.js';
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
  // Each entry is pinned before its type is looked at: what is opened is what was looked at (pinned.ts).
  const root = pin(at);
  if (!root) return undefined;
  const st = root.st;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  // A stack of its own, as the tar walk keeps: recursion ~2,000 levels deep is near the stack's end.
  const stack: Frame[] = [];
  const filter = filters(filterSpec) ? new CopyFilter(filterSpec) : null;
  /** Hashes the pinned entry (or starts to: a file's contents and a directory's children come later); closes or keeps `p`. */
  const enter = (path: string, name: string, p: Pinned, depth: number, taken = true): void => {
    try {
      enterPinned(path, name, p, depth, taken);
    } catch (err) {
      closeSync(p.fd);
      throw err;
    }
  };
  const enterPinned = (path: string, name: string, p: Pinned, depth: number, taken: boolean): void => {
    const est = p.st;
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
      stack.push({ kind: 'file', fd: openPinnedFile(p, path) });
      closeSync(p.fd);
      return; // its '\n' comes after its contents
    }
    if (type === 'd') {
      // Each level holds its directory open: a nesting past the bound fails, as PATH_MAX fails Docker's walk.
      if (depth >= MAX_TREE_DEPTH) throw systemError(tooDeep(name));
      // The pin (O_PATH) is the directory's fd: its children are looked up through it.
      const fd = p.fd;
      const names = readdirSync(fdPath({ fd })).sort().reverse();
      stack.push({ kind: 'dir', fd, names, name, depth, held: taken ? null : own });
      return; // its '\n' comes after its children
    }
    closeSync(p.fd);
    h.update('\n');
  };
  try {
    enter(at, '', root, 0);
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
          const cp = pin(cat);
          if (!cp) continue;
          const name = `${top.name}/${child}`;
          const verdict = filter ? filter.judge(name.slice(1), cp.st.isDirectory()) : 'take';
          if (verdict !== 'skip') enter(cat, name, cp, top.depth + 1, verdict === 'take');
          else closeSync(cp.fd);
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
