/**
 * Writes a directory tree of a container's filesystem into a tar, walking it through open
 * directory fds (root.ts) so that a symlink swapped in during the walk is archived as
 * the symlink it is, never followed. Used by GET /archive, export, commit, COPY and the CLI's
 * `cp` from the host.
 *
 * Entries are as Docker's archive package writes them: directories with a trailing `/`, owners
 * and modes as on disk, mtimes in whole seconds, hardlinked files once with `link` entries after,
 * sockets left out, a file capability (security.capability, the one xattr Docker's tars carry)
 * in the entry's xattrs. For commit, overlay whiteouts (char 0:0) become `.wh.<name>` files and
 * an opaque directory gets a `.wh..wh..opq` entry.
 *
 * The walk is synchronous and pulled: each next() of the generator makes the file calls for the
 * next piece of the tar. The daemon runs it on a worker thread (walk-pool.ts): an awaited file
 * call costs a round trip to libuv's thread pool, 35-40 us here against 4 us for the call itself,
 * and a tree of small files is mostly such calls.
 */
import { closeSync, constants as fsc, futimesSync, lutimesSync, openSync, readdirSync, readlinkSync, readSync, unlinkSync, type Stats } from 'node:fs';
import { systemError } from '../lib/errors.js';
import { tarEnd, tarEntryBlocks, type TarWriteHeader } from '../lib/tar-writer.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';
import { lgetxattr, llistxattr, lremovexattr } from '../layer/xattr.js';
import { fdPath } from '../lib/fd-path.js';
import { CopyFilter, filters, type CopyFilterSpec, type Verdict } from './copy-filter.js';
import { ModeChange } from '../lib/file-mode.js';
import { openPinnedFile, pin, type Pinned } from './pinned.js';

export interface WalkOptions {
  /** Overlay upper dir mode: whiteouts and opaque dirs (trusted.overlay.opaque) become Docker's `.wh.` entries. */
  whiteouts?: boolean;
  /** Sources mounted over entries, as fd paths by tar name (cp of a tree holding volumes). */
  mounts?: Map<string, string>;
  /** COPY --chmod: permission bits for every entry instead of its own, or a symbolic mode applied to each (lib/file-mode.ts). */
  chmod?: number | string;
  /**
   * The upper dir becomes the layer as it is (adoptRWLayer): each entry is made what extracting
   * its tar entry would have made (times in whole seconds, atime too; no attribute the tar does
   * not carry), sockets, which no tar carries, are removed, and an entry that cannot be read
   * fails the walk rather than being left out of the tar.
   */
  asLayer?: boolean;
  /** BuildKit's COPY --exclude and --parents (copy-filter.ts), matched below the walk's root. */
  filter?: CopyFilterSpec;
  /** Every entry's mtime (seconds) instead of its own (SOURCE_DATE_EPOCH for an exporter). */
  mtime?: number;
}

/**
 * What to walk: the entry at `at` (an fd path, see root.ts) archived as `name`, and below it its
 * children as `name/child` (an empty `name` makes the root `/`, Docker's rebase of `/`); or, with
 * `children`, only what the directory `at` holds, named `name + child`.
 */
export interface WalkSpec {
  at: string;
  name: string;
  children?: boolean;
}

const CHUNK = 256 * 1024;
const CAPABILITY = 'security.capability';
/** overlayfs marks a directory of the upper dir that hides the lower layers' so. */
export const OPAQUE = 'trusted.overlay.opaque';

function major(rdev: number): number {
  return Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
}
function minor(rdev: number): number {
  return (rdev & 0xff) | Number((BigInt(rdev) >> 12n) & ~0xffn);
}

function typeOf(st: Stats): TarWriteHeader['type'] | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return null; // sockets: Docker leaves them out
}

function openOrNull(at: string, flags: number): number | null {
  try {
    return openSync(at, flags);
  } catch {
    return null;
  }
}

function* readExactly(fd: number, size: number): Generator<Buffer> {
  for (let pos = 0; pos < size; ) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return; // shrank meanwhile: the writer zero-fills
    pos += n;
    yield buf.subarray(0, n);
  }
}

/** The tar of `spec`, end marker included, as the pieces a walk makes (see gathered()). */
export function* walkTar(spec: WalkSpec, opts: WalkOptions = {}): Generator<Buffer> {
  // The prefix of the tar names below the root, which the filter's paths leave out.
  const walk = new TreeWalk(opts, spec.children ? spec.name : `${spec.name.replace(/\/+$/, '')}/`);
  try {
    if (spec.children) walk.descend(spec.at, null, spec.name);
    else {
      const p = pin(spec.at);
      if (p) yield* walk.entry(spec.at, p, spec.name);
    }
    yield* walk.rest();
  } finally {
    walk.close();
  }
  yield tarEnd();
}

/** `chunks` gathered into buffers of `size` bytes (the last one shorter), each a fresh allocation of its own. */
export async function* gathered(chunks: Iterable<Buffer> | AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let batch: Buffer | null = null;
  let filled = 0;
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; ) {
      batch ??= Buffer.allocUnsafeSlow(size);
      const n = chunk.copy(batch, filled, at);
      filled += n;
      at += n;
      if (filled === size) {
        yield batch;
        batch = null;
        filled = 0;
      }
    }
  }
  if (batch && filled > 0) yield batch.subarray(0, filled);
}

/** A directory being walked: its children left, by name, and where they go in the tar. */
interface Level {
  /** The directory as an fd path. */
  dir: string;
  /** Its fd, when the walk opened it. */
  fd: number | null;
  names: string[];
  prefix: string;
  /** asLayer: the directory's tar mtime, set once its children are done (removing a socket in it changes it). */
  mtime?: number;
  /** A filtered walk: the directory's own entry, written once something below it is taken. */
  pending?: Buffer[];
}

class TreeWalk {
  /** dev:ino of hardlinked files already written -> their tar name. */
  private readonly linked = new Map<string, string>();
  /**
   * The directories open on the way down. A stack of its own rather than recursion: nested
   * generators overflowed the call stack about a thousand levels down.
   */
  private readonly levels: Level[] = [];

  private readonly filter: CopyFilter | null;
  private readonly modeChange: ModeChange | null;

  constructor(
    private readonly opts: WalkOptions,
    private readonly filterBase = '',
  ) {
    this.filter = filters(opts.filter) ? new CopyFilter(opts.filter) : null;
    this.modeChange = typeof opts.chmod === 'string' ? ModeChange.parse(opts.chmod) : null;
  }

  /** Goes into the directory `dir` (an fd path; `fd` is closed when it is done), its children named `prefix + child`. */
  descend(dir: string, fd: number | null, prefix: string, mtime?: number, pending?: Buffer[]): void {
    // Each level holds its directory open: a nesting past the bound fails the walk, as PATH_MAX fails Docker's.
    if (this.levels.length >= MAX_TREE_DEPTH) {
      if (fd !== null) closeSync(fd);
      throw systemError(tooDeep(prefix));
    }
    let names: string[];
    try {
      names = readdirSync(dir).sort().reverse();
    } catch (err) {
      if (fd !== null) closeSync(fd);
      if (this.opts.asLayer) throw err;
      return; // unreadable: no children
    }
    this.levels.push({ dir, fd, names, prefix, mtime, ...(pending ? { pending } : {}) });
  }

  /** Everything below the directories gone into, depth first, each directory's children in name order. */
  *rest(): Generator<Buffer> {
    while (this.levels.length) {
      const level = this.levels[this.levels.length - 1]!;
      const child = level.names.pop();
      if (child === undefined) {
        this.levels.pop();
        if (level.fd !== null) {
          if (level.mtime !== undefined) futimesSync(level.fd, level.mtime, level.mtime);
          closeSync(level.fd);
        }
        continue;
      }
      const at = this.opts.mounts?.get(level.prefix + child) ?? `${level.dir}/${child}`;
      // Pinned before its type is looked at: what is opened below is what was looked at (pinned.ts).
      const p = pin(at);
      if (!p) continue;
      const verdict = this.filter ? this.filter.judge((level.prefix + child).slice(this.filterBase.length), p.st.isDirectory()) : 'take';
      if (verdict !== 'skip') yield* this.entry(at, p, level.prefix + child, verdict);
      else closeSync(p.fd);
    }
  }

  /** The entries of the directories on the way down that were held back, outermost first. */
  private *unhold(): Generator<Buffer> {
    for (const level of this.levels) {
      if (level.pending) yield* level.pending;
      level.pending = undefined;
    }
  }

  /** Closes what a walk left open (it stopped early, or failed). */
  close(): void {
    for (const level of this.levels.splice(0)) if (level.fd !== null) closeSync(level.fd);
  }

  /** The entry `p` pinned at `at`, and what it holds; closes `p`. */
  *entry(at: string, p: Pinned, tarName: string, verdict: Verdict = 'take'): Generator<Buffer> {
    try {
      yield* this.pinnedEntry(at, p, tarName, verdict);
    } finally {
      closeSync(p.fd);
    }
  }

  private *pinnedEntry(at: string, p: Pinned, tarName: string, verdict: Verdict): Generator<Buffer> {
    const st = p.st;
    const type = typeOf(st);
    if (type === null) {
      if (this.opts.asLayer) unlinkSync(at);
      return;
    }
    if (verdict === 'take') yield* this.unhold();
    const rel = tarName.replace(/\/+$/, '');
    const base: TarWriteHeader = {
      name: tarName,
      type,
      mode: this.modeChange ? this.modeChange.apply(st.mode, st.isDirectory()) : typeof this.opts.chmod === 'number' ? this.opts.chmod : st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: this.opts.mtime ?? Math.floor(st.mtimeMs / 1000),
    };
    if (type === 'char' && this.opts.whiteouts && st.rdev === 0) {
      const slash = rel.lastIndexOf('/');
      const name = slash < 0 ? `.wh.${rel}` : `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
      yield* tarEntryBlocks({ ...base, name, type: 'file', mode: 0o600, size: 0 });
      return;
    }
    // Read by name through the parent's fd: lgetxattr does not follow the entry if it was swapped for a link.
    // asLayer lists the entry's attributes anyway (to drop those no tar carries): then the capability is read only when listed.
    const names = this.opts.asLayer ? llistxattr(at) : null;
    const capability = names && !names.includes(CAPABILITY) ? null : lgetxattr(at, CAPABILITY);
    if (capability) base.xattrs = new Map([[CAPABILITY, capability]]);
    switch (type) {
      case 'directory': {
        // Through the pin: the directory looked at, whatever its name names by now.
        const dir = openOrNull(fdPath(p), fsc.O_RDONLY | fsc.O_DIRECTORY);
        if (dir === null) return this.unreadable(rel);
        let handedOn = false;
        try {
          const own = tarEntryBlocks({ ...base, name: rel === '' ? '/' : `${rel}/` });
          // Filtered out itself: its entry waits for one below it (unhold()).
          const pending = verdict === 'pass' ? [...own] : undefined;
          if (!pending) yield* own;
          if (!pending && this.opts.whiteouts && (!names || names.includes(OPAQUE)) && lgetxattr(`${fdPath({ fd: dir })}/.`, OPAQUE)?.toString() === 'y') {
            yield* tarEntryBlocks({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', mode: base.mode & 0o777, size: 0, xattrs: undefined });
          }
          // Its children come next (rest()); the level closes the fd when they are done.
          handedOn = true;
          this.dropAttributes(at, names, true);
          this.descend(fdPath({ fd: dir }), dir, `${rel}/`, names ? base.mtime : undefined, pending);
        } finally {
          if (!handedOn) closeSync(dir);
        }
        return;
      }
      case 'file': {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          const first = this.linked.get(key);
          if (first !== undefined) {
            yield* tarEntryBlocks({ ...base, type: 'link', linkname: first, size: 0 });
            return;
          }
        }
        let fd: number;
        try {
          fd = openPinnedFile(p, at);
        } catch {
          return this.unreadable(rel);
        }
        try {
          if (st.nlink > 1) this.linked.set(key, tarName);
          yield* tarEntryBlocks({ ...base, size: st.size }, readExactly(fd, st.size));
          this.settle(at, base.mtime, names);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink': {
        let linkname: string;
        try {
          linkname = readlinkSync(at);
        } catch {
          return this.unreadable(rel);
        }
        this.settle(at, base.mtime, names);
        yield* tarEntryBlocks({ ...base, linkname });
        return;
      }
      case 'char':
      case 'block':
        this.settle(at, base.mtime, names);
        yield* tarEntryBlocks({ ...base, devmajor: major(st.rdev), devminor: minor(st.rdev) });
        return;
      default:
        this.settle(at, base.mtime, names);
        yield* tarEntryBlocks(base);
    }
  }

  /** An entry the walk could not read: left out of the tar, or in asLayer mode the walk's end. */
  private unreadable(rel: string): void {
    if (this.opts.asLayer) throw systemError(`/${rel}: changed or unreadable while it was archived`);
  }

  /**
   * asLayer: the entry at `at` (by name, never through a link) as its tar entry extracts: times
   * in whole seconds and only the attributes a tar carries (a file's capability, a directory's
   * opaque mark, and the host's SELinux label, which is the host's rather than the image's).
   * `names`: the entry's attributes as listed when it was met (null: not asLayer).
   */
  private settle(at: string, mtime: number, names: string[] | null): void {
    if (!names) return;
    this.dropAttributes(at, names, false);
    lutimesSync(at, mtime, mtime);
  }

  /** asLayer: the attributes in `names` no tar carries, removed from the entry at `at` (a directory's time is set when its level ends). */
  private dropAttributes(at: string, names: string[] | null, isDir: boolean): void {
    for (const name of names ?? []) {
      if (name === CAPABILITY || name === 'security.selinux' || (isDir && name === OPAQUE)) continue;
      lremovexattr(at, name);
    }
  }
}
