/**
 * Extracts one layer tar into a diff directory, converting Docker/OCI whiteouts into overlay's
 * form. Safety rules (the layer is untrusted input):
 *  - entry names are cleaned; absolute names become relative (as Docker does), and a name that
 *    climbs out of the layer with `..` rejects the whole layer;
 *  - a path is never created through a symlink: every parent is lstat'ed (or known to be a
 *    directory this extraction made) and a symlink parent rejects the layer;
 *  - files are opened with O_EXCL|O_NOFOLLOW after removing what was there;
 *  - hardlink targets are resolved by the same rules, so they are always inside the layer.
 * Metadata: lchown, then chmod (chown clears setuid/setgid), then xattrs (chown also clears
 * security.capability), then mtimes; directory mtimes last, after their contents. Attributes are
 * checked (xattr.ts) and set one lsetxattr call each: a layer may not set overlay's own.
 *
 * The file system calls are synchronous: an entry costs several calls and a round trip through
 * libuv's thread pool for each one cost more than the calls themselves. The daemon runs the
 * extractor on a worker thread (extract-pool.ts), so these calls never hold up its event loop;
 * the extractor still yields every few milliseconds so its own thread hears its input.
 *
 * Whiteouts are char 0/0 device nodes, which only mknod(2) makes and Node has no binding for.
 * Rather than a process per whiteout (a layer that removes packages has thousands), the first
 * whiteout of each owner in a layer is made by one `mknod` process and every later one is a hard
 * link to it: overlayfs tests only "char device 0/0", never the link count, and the kernel itself
 * links its whiteouts to one shared inode (overlayfs since Linux 5.8). A native package was
 * weighed: none small and prebuilt offers mknod (an FFI such as koffi is ~28 MB of binaries for
 * one call), and a layer's few real device nodes and fifos still take one `mknod` each.
 */
import {
  closeSync,
  constants as fsc,
  chmodSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writeSync,
  writevSync,
  type Stats,
} from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { invalidParameter } from '../lib/errors.js';
import type { TarEntry, TarHeader, TarReader } from './tar-reader.js';
import { checkWritableXattr, hasDefaultAcl, lsetxattr, xattrNotPermitted } from './xattr.js';
import { run } from '../lib/run.js';

/** Linux's limits for a path and for one of its components. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';

/** An empty, `.` or `..` component anywhere in a name (a leading or trailing `/` makes an empty one). */
const UNCLEAN = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Cleans a tar entry name to a path relative to the layer root ('' is the root itself).
 * Throws InvalidParameter when the name escapes the layer.
 */
export function layerRelativePath(name: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  // Most names are clean already (no empty, `.` or `..` component, no leading or trailing `/`)
  // and too short for any component to be too long: they are their own answer.
  if (bytes <= NAME_MAX && !UNCLEAN.test(name)) return name;
  // Nothing longer can be created (ENAMETOOLONG), and a bound keeps the per-component work linear.
  if (bytes > PATH_MAX) throw invalidParameter(`invalid tar entry ${JSON.stringify(name.slice(0, 64))}…: name is longer than ${PATH_MAX} bytes`);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (Buffer.byteLength(part, 'utf8') > NAME_MAX) throw invalidParameter(`invalid tar entry ${JSON.stringify(name)}: a name component is longer than ${NAME_MAX} bytes`);
    if (part === '..') {
      if (out.length === 0) throw invalidParameter(`invalid tar entry ${JSON.stringify(name)}: path is outside of the layer`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

/** Same rule, returning null instead of throwing (for recording tar-split names). */
export function layerRelativePathOrNull(name: string): string | null {
  try {
    return layerRelativePath(name);
  } catch {
    return null;
  }
}

export interface ExtractResult {
  /** Sum of regular file sizes written. */
  size: number;
}

/** How long the extractor may keep the event loop before it yields. */
const SLICE_MS = 4;

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Extracts into an empty directory (a fresh layer's diff dir). */
export class LayerExtractor {
  /** Directories known to be real directories inside the layer (relative paths). */
  private readonly dirs = new Set<string>(['']);
  /** The known subdirectories of each directory in `dirs`, so removing a tree costs its size, not the layer's. */
  private readonly subdirs = new Map<string, string[]>();
  /**
   * Every path this extraction created. The root started empty, so a path not in here does
   * not exist and needs no lstat before it is created (a tar rarely repeats a name).
   */
  private readonly made = new Set<string>();
  private sliceStart = performance.now();
  /** Directory mtimes, set once all content is written; a repeated directory entry keeps one (the last). */
  private readonly dirTimes = new Map<string, number>();
  /** Per owner (`uid:gid`), a whiteout of this layer that later whiteouts are hard links of. */
  private readonly whiteoutSeeds = new Map<string, string>();
  private size = 0;
  /** The owner and the mode mask a new inode gets without a chown or chmod. */
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  private readonly umask = process.umask();
  /**
   * Directories whose new entries may not get those defaults: setgid ones (their group, and for
   * subdirectories their setgid bit, is inherited) and ones with a default ACL (it replaces the
   * umask). Only a superset matters: an entry made in one is chowned and chmodded as always.
   */
  private readonly inheriting = new Set<string>();

  constructor(private readonly root: string) {}

  /** `rel` is clean (layerRelativePath): no empty, `.` or `..` components to normalise. */
  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Notes a directory just made (by mkdir) in `parent`: it inherits what its parent passes on. */
  private madeDir(rel: string, parent: string): void {
    if (this.inheriting.has(parent)) this.inheriting.add(rel);
  }

  /**
   * Whether a file or symlink just made in `parent` needs a chown for `uid:gid`: not when that
   * is the creator's own and the directory passes no group on (the common root-owned layer,
   * one syscall saved per entry).
   */
  private needsChown(parent: string, uid: number, gid: number): boolean {
    return uid !== this.euid || gid !== this.egid || this.inheriting.has(parent);
  }

  /** The mode a new file can be created with so that no chmod is needed, or null. */
  private createMode(parent: string, mode: number): number | null {
    // Set-id and sticky bits are left to chmod (a chown would clear set-id bits again).
    if (mode & ~0o777 || mode & this.umask || this.inheriting.has(parent)) return null;
    return mode;
  }

  private addDir(rel: string): void {
    if (this.dirs.has(rel)) return;
    this.dirs.add(rel);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const list = this.subdirs.get(parent);
    if (list) list.push(rel);
    else this.subdirs.set(parent, [rel]);
  }

  /** Forgets `rel` and every directory below it (they were removed with it). */
  private dropDir(rel: string): void {
    const stack = [rel];
    while (stack.length) {
      const d = stack.pop()!;
      if (!this.dirs.delete(d)) continue;
      const below = this.subdirs.get(d);
      if (below) {
        this.subdirs.delete(d);
        for (const b of below) stack.push(b);
      }
    }
  }

  /** Makes sure every parent of `rel` is a real directory inside the layer; never follows a symlink. */
  private ensureParents(rel: string): void {
    // Every directory in `dirs` has its parent there too (added top-down, dropped with its subtree).
    if (this.dirs.has(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '')) return;
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      if (this.dirs.has(cur)) continue;
      const st = this.made.has(cur) ? lstatOrNull(this.abs(cur)) : null;
      if (st === null) {
        mkdirSync(this.abs(cur), { mode: 0o755 });
        this.made.add(cur);
        this.madeDir(cur, i === 0 ? '' : parts.slice(0, i).join('/'));
      } else if (st.isSymbolicLink()) {
        throw invalidParameter(`invalid tar entry: parent ${JSON.stringify(cur)} of ${JSON.stringify(rel)} is a symlink`);
      } else if (!st.isDirectory()) {
        throw invalidParameter(`invalid tar entry: parent ${JSON.stringify(cur)} of ${JSON.stringify(rel)} is not a directory`);
      }
      this.addDir(cur);
    }
  }

  /** Removes whatever is at `rel` (unless both it and the new entry are directories). */
  private clear(rel: string, keepDir: boolean): boolean {
    if (!this.made.has(rel)) return false;
    const st = lstatOrNull(this.abs(rel));
    if (!st) return false;
    if (keepDir && st.isDirectory()) return true;
    rmSync(this.abs(rel), { recursive: true, force: true });
    if (st.isDirectory()) {
      this.dropDir(rel);
    }
    for (const [owner, seed] of this.whiteoutSeeds) {
      if (seed === rel || seed.startsWith(`${rel}/`)) this.whiteoutSeeds.delete(owner);
    }
    return false;
  }

  /** A whiteout at `rel` (cleared already): a hard link to this layer's first one of the same owner. */
  private async whiteout(rel: string, uid: number, gid: number): Promise<void> {
    const owner = `${uid}:${gid}`;
    const seed = this.whiteoutSeeds.get(owner);
    if (seed !== undefined) {
      try {
        linkSync(this.abs(seed), this.abs(rel));
        this.made.add(rel);
        return;
      } catch (e) {
        // EMLINK: the file system's link limit (65000 on ext4); a new seed takes over.
        if ((e as NodeJS.ErrnoException).code !== 'EMLINK') throw e;
      }
    }
    await this.mknod(rel, 'c', 0, 0);
    lchownSync(this.abs(rel), uid, gid);
    this.whiteoutSeeds.set(owner, rel);
  }

  private async mknod(rel: string, type: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> {
    const args = type === 'p' ? [this.abs(rel), 'p'] : [this.abs(rel), type, String(major), String(minor)];
    await run('mknod', args);
    this.made.add(rel);
  }

  /** Owner, mode and attributes; `fresh`: made just now by this extraction in `parent` (a chown may be skipped). */
  private setMeta(rel: string, h: TarHeader, isSymlink: boolean, fresh = false, parent = ''): void {
    const p = this.abs(rel);
    if (!fresh || this.needsChown(parent, h.uid, h.gid)) lchownSync(p, h.uid, h.gid);
    if (!isSymlink) chmodSync(p, h.mode);
    this.setXattrs(rel, h);
  }

  /** After a directory's mode and attributes are set: whether what is made in it inherits. */
  private noteDirMeta(rel: string, h: TarHeader): void {
    if (h.mode & 0o2000 || h.xattrs.has('system.posix_acl_default')) this.inheriting.add(rel);
  }

  /** As Docker does, an attribute the kernel does not permit on this file (EPERM) is skipped; other failures refuse the layer. */
  private setXattrs(rel: string, h: TarHeader): void {
    for (const [name, value] of h.xattrs) {
      checkWritableXattr(h.name, name);
      try {
        lsetxattr(this.abs(rel), name, value);
      } catch (err) {
        if (!xattrNotPermitted(err)) throw err;
      }
    }
  }

  /**
   * Writes a regular file's payload and metadata through one descriptor. A payload already in
   * memory (most files of a layer) goes in one write, with no await; the mode is given at
   * creation and the owner left as created when that is already right.
   */
  private async writeFile(rel: string, parent: string, h: TarHeader, entry: TarEntry): Promise<void> {
    const mode = this.createMode(parent, h.mode);
    const fd = openSync(this.abs(rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode ?? 0o600);
    this.made.add(rel);
    try {
      const parts = entry.bufferedBody();
      if (parts) this.writeParts(fd, parts);
      else for await (const chunk of entry.body()) this.writeParts(fd, [chunk]);
      if (this.needsChown(parent, h.uid, h.gid)) fchownSync(fd, h.uid, h.gid);
      if (mode === null) fchmodSync(fd, h.mode);
      this.setXattrs(rel, h);
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private writeParts(fd: number, parts: Buffer[]): void {
    let left = 0;
    for (const p of parts) left += p.length;
    this.size += left;
    if (left === 0) return;
    // Never more parts than writev takes (IOV_MAX); a payload in memory is rarely more than two.
    if (parts.length > 1 && parts.length <= 1024) {
      const n = writevSync(fd, parts);
      if (n === left) return;
      // A short write (rare): the rest one part at a time.
      parts = [Buffer.concat(parts).subarray(n)];
    }
    for (const chunk of parts) {
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
    }
  }

  /** A promise to await when the slice is over, else nothing (no await per entry). */
  private maybeYield(): Promise<void> | undefined {
    if (performance.now() - this.sliceStart < SLICE_MS) return undefined;
    return yieldToLoop().then(() => {
      this.sliceStart = performance.now();
    });
  }

  async extract(reader: TarReader): Promise<ExtractResult> {
    // A root that is not there yet (an empty layer needs none) passes nothing on.
    const root = lstatOrNull(this.root);
    if (root && (root.mode & 0o2000 || hasDefaultAcl(this.root))) this.inheriting.add('');
    for await (const entry of reader.entries()) {
      const slice = this.maybeYield();
      if (slice) await slice;
      const h = entry.header;
      const rel = layerRelativePath(h.name);
      const base = rel.slice(rel.lastIndexOf('/') + 1);
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';

      if (base.startsWith(WHITEOUT_PREFIX)) {
        await entry.skip();
        this.ensureParents(rel);
        if (base === WHITEOUT_OPAQUE) {
          lsetxattr(this.abs(parent), 'trusted.overlay.opaque', Buffer.from('y'));
        } else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
          const hidden = base.slice(WHITEOUT_PREFIX.length);
          // `.wh.`, `.wh..` and `.wh...` would name the directory itself or its parent.
          if (hidden === '' || hidden === '.' || hidden === '..') throw invalidParameter(`invalid whiteout ${JSON.stringify(h.name)}`);
          const target = parent ? `${parent}/${hidden}` : hidden;
          this.clear(target, false);
          await this.whiteout(target, h.uid, h.gid);
        }
        continue;
      }

      if (rel === '') {
        // The layer root itself ("./"): keep the directory, take its metadata.
        await entry.skip();
        if (h.type === 'directory') {
          this.setMeta('', h, false);
          this.noteDirMeta('', h);
          this.dirTimes.set('', h.mtime);
        }
        continue;
      }

      this.ensureParents(rel);
      const keptDir = this.clear(rel, h.type === 'directory');
      const p = this.abs(rel);
      switch (h.type) {
        case 'directory':
          if (!keptDir) {
            mkdirSync(p, { mode: 0o700 });
            this.madeDir(rel, parent);
          }
          this.made.add(rel);
          this.addDir(rel);
          await entry.skip();
          this.setMeta(rel, h, false, !keptDir, parent);
          this.noteDirMeta(rel, h);
          this.dirTimes.set(rel, h.mtime);
          continue;
        case 'file':
        case 'other':
          await this.writeFile(rel, parent, h, entry);
          continue;
        case 'symlink':
          await entry.skip();
          if (h.linkname === '' || Buffer.byteLength(h.linkname) >= PATH_MAX) throw invalidParameter(`invalid symlink ${JSON.stringify(h.name)}: bad target length`);
          symlinkSync(h.linkname, p);
          this.made.add(rel);
          this.setMeta(rel, h, true, true, parent);
          lutimesSync(p, h.mtime, h.mtime);
          continue;
        case 'link': {
          await entry.skip();
          const target = layerRelativePath(h.linkname);
          if (target === '') throw invalidParameter(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
          this.ensureParents(target);
          const st = lstatOrNull(this.abs(target));
          if (!st || st.isDirectory()) {
            throw invalidParameter(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: target is not in the layer`);
          }
          linkSync(this.abs(target), p);
          this.made.add(rel);
          // A hardlink shares the target's inode: its metadata is the target's.
          continue;
        }
        case 'char':
        case 'block':
          await entry.skip();
          await this.mknod(rel, h.type === 'char' ? 'c' : 'b', h.devmajor, h.devminor);
          break;
        case 'fifo':
          await entry.skip();
          await this.mknod(rel, 'p');
          break;
      }
      this.setMeta(rel, h, false);
      lutimesSync(p, h.mtime, h.mtime);
    }
    // Setting a directory's times changes no other directory's, so the order does not matter.
    for (const [rel, mtime] of this.dirTimes) {
      if (!this.dirs.has(rel)) continue;
      try {
        lutimesSync(this.abs(rel), mtime, mtime);
      } catch {
        // removed by a later entry
      }
      const slice = this.maybeYield();
      if (slice) await slice;
    }
    return { size: this.size };
  }
}
