/**
 * Extracts a tar into a directory of a container (PUT /containers/{id}/archive), as Docker's
 * Untar does inside the container's chroot, without a chroot:
 *  - entry names are cleaned; one that climbs out of the destination with `..` is refused,
 *    an absolute one is taken relative to the destination (layerRelativePath, shared with the
 *    layer extractor);
 *  - parents are resolved inside the container root (symlinks followed there, never out of it;
 *    missing ones made 0755), every write goes through an open directory fd (root.ts),
 *    new files are created O_EXCL|O_NOFOLLOW (in place when the name is free, else under a
 *    temporary name renamed over the old entry), and metadata is set through the fd that made a
 *    file or an O_PATH fd of the entry, so a symlink the container swaps in meanwhile is never
 *    followed;
 *  - symlinks whose target lexically leaves the destination and hardlinks to outside it are
 *    refused, as Docker refuses them (breakout), with `..` stopping where Docker's untar for
 *    the case is chrooted (ExtractOptions.chroot);
 *  - owners and modes of the entries are kept, or all chowned to `chown` (copyUIDGID);
 *  - the container's volumes and binds are written through (root.ts lays them over the
 *    root); nothing is written where the root says it is read-only (a `:ro` mount, a read-only
 *    rootfs), a mount point is never replaced (EBUSY, as unlinking a mount point is), and a
 *    hardlink never joins two mounts (EXDEV, as the kernel refuses it in the container).
 */
import { constants as fsc } from 'node:fs';
import { threadPoolFs, type FsCalls, type OpenFile } from './fs-calls.js';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { invalidParameter, systemError } from '../lib/errors.js';
import { run } from '../lib/run.js';
import { decompressed } from '../layer/decompress.js';
import { layerRelativePath } from '../layer/extract.js';
import { TarReader, type TarEntry, type TarHeader } from '../layer/tar-reader.js';
import { checkWritableXattr, lsetxattr, xattrRefusedByKernel } from '../layer/xattr.js';
import { O_PATH, RootPathError, type ContainerRoot } from './root.js';
import { fdPath } from '../lib/fd-path.js';

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory and the reverse (noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry instead of the tar's (copyUIDGID with a container user). */
  chown?: { uid: number; gid: number };
  /** Renames entries (and hardlink targets) before they are extracted: the CLI's rebase of `cp`. */
  rename?: (name: string) => string;
  /**
   * Where Docker's own untar for this case runs chrooted, which decides what a relative symlink
   * may point at (its breakout rule: the target, joined to the link's directory, must start with
   * the destination). `root`: the container's root (`docker cp` into a container; `..` stops at
   * the root). `destination`: the destination itself (the builder's context, COPY and ADD, where
   * `..` stops at the destination, so every link is kept). Unset: not chrooted (the CLI's untar
   * on the host; a link that climbs out of the destination is refused).
   */
  chroot?: 'root' | 'destination';
}

const DIR_CACHE = 32;

/** Docker unpacks a build context chrooted into it: a `..` above the root stays at the root. */
export const clampName = (name: string): string => posix.normalize('/' + name).slice(1);

/** Runs `make` (which creates `tmp`), then renames `tmp` over `at`; a failure leaves no `tmp` behind. */
async function placeByRename(fs: FsCalls, tmp: string, at: string, make: () => Promise<void>): Promise<void> {
  try {
    await make();
    await fs.rename(tmp, at);
  } catch (err) {
    await fs.unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Removes `name` in `dir` and everything below it, never following a symlink; what is already
 * gone (a concurrent extract's work) is no error, as in Go's RemoveAll.
 */
export async function removeAllAt(dir: OpenFile, name: string, fs: FsCalls = threadPoolFs): Promise<void> {
  const at = fdPath(dir, name);
  const st = await fs.lstat(at).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) {
    await fs.unlink(at).catch(ignoreGone);
    return;
  }
  const sub = await fs.open(at, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch(ignoreGone);
  if (!sub) return;
  try {
    for (const child of await fs.readdir(fdPath(sub))) await removeAllAt(sub, child, fs);
  } finally {
    await sub.close();
  }
  await fs.rmdir(at).catch(ignoreGone);
}

function ignoreGone(err: NodeJS.ErrnoException): undefined {
  if (err.code !== 'ENOENT') throw err;
  return undefined;
}

function readOnly(op: string, path: string) {
  return systemError(`${op} ${path}: read-only file system`);
}

export class ContainerExtractor {
  /** Directory fds, and where they are in the container, by path relative to the destination. */
  private readonly dirs = new Map<string, { fh: OpenFile; path: string }>();
  private readonly dirTimes: Array<[string, number]> = [];
  /** Names for entries being made: random per extract (not guessable by the container), counted per entry. */
  private readonly tempPrefix = `.wharf-extract-${randomBytes(8).toString('hex')}-`;
  private temps = 0;

  /** The root's own calls: on the thread pool, or direct on an extraction worker. */
  private readonly fs: FsCalls;

  constructor(
    private readonly root: ContainerRoot,
    /** The destination directory, resolved, as an absolute container path. */
    private readonly dest: string,
    private readonly opts: ExtractOptions,
  ) {
    this.fs = root.fs;
  }

  /** The directory `rel` below the destination (made if missing, unless `create` is false), as an fd and its resolved container path. */
  private async dir(rel: string, create = true): Promise<{ fh: OpenFile; path: string }> {
    const cached = this.dirs.get(rel);
    if (cached) return cached;
    const r = await this.root.resolve(posix.join(this.dest, rel), { followFinal: true, createDirs: create });
    let fh: OpenFile;
    try {
      const at = r.at();
      if (r.name !== '') {
        const st = await this.fs.lstat(at).catch(() => null);
        if (!st && !this.root.writable(r.containerPath)) throw readOnly('mkdir', r.containerPath);
        if (!st) await this.fs.mkdir(at, 0o755);
        else if (!st.isDirectory()) throw invalidParameter(`cannot extract into ${posix.join(this.dest, rel)}: not a directory`);
      }
      fh = await this.fs.open(at, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    } finally {
      await r.close();
    }
    const entry = { fh, path: r.containerPath };
    this.dirs.set(rel, entry);
    return entry;
  }

  /** Closes the cached directory fds, but `keep` (still in use by the entry at hand). */
  private async dropDirs(keep?: OpenFile): Promise<void> {
    const all = [...this.dirs.entries()];
    this.dirs.clear();
    for (const [rel, d] of all) {
      if (d.fh === keep) this.dirs.set(rel, d);
      else await d.fh.close().catch(() => {});
    }
  }

  private tempName(): string {
    return this.tempPrefix + String(this.temps++);
  }

  /** Docker's breakout rule for a symlink in `parentRel` (see ExtractOptions.chroot); an absolute target never breaks out. */
  private symlinkBreaksOut(parentRel: string, linkname: string): boolean {
    if (linkname.startsWith('/') || this.opts.chroot === 'destination') return false;
    if (this.opts.chroot === 'root') {
      // Go's strings.HasPrefix of cleaned paths, as moby's createTarFile checks it.
      const dest = posix.normalize('/' + this.dest).replace(/(.)\/+$/, '$1');
      return !posix.join('/', dest, parentRel, linkname).startsWith(dest);
    }
    return posix.normalize(posix.join(parentRel || '.', linkname)).split('/')[0] === '..';
  }

  async extract(src: Readable): Promise<void> {
    const { stream } = await decompressed(src);
    const reader = new TarReader(stream, undefined, { digest: false });
    try {
      for await (const entry of reader.entries()) {
        await this.entry(entry);
      }
      for (let i = this.dirTimes.length - 1; i >= 0; i--) {
        const [rel, mtime] = this.dirTimes[i]!;
        const r = await this.root.resolve(posix.join(this.dest, rel), { followFinal: false }).catch(() => null);
        if (!r) continue;
        try {
          await this.setDirTimes(r.at(), mtime);
        } finally {
          await r.close();
        }
      }
    } finally {
      await this.dropDirs();
    }
  }

  private async entry(tarEntry: TarEntry): Promise<void> {
    const header = tarEntry.header;
    const rename = this.opts.rename;
    const h = rename ? { ...header, name: rename(header.name), linkname: header.type === 'link' ? rename(header.linkname) : header.linkname } : header;
    const rel = layerRelativePath(h.name);
    if (rel === '') return; // the destination itself ("./"): Docker leaves it as it is
    const slash = rel.lastIndexOf('/');
    const parentRel = slash < 0 ? '' : rel.slice(0, slash);
    const base = rel.slice(slash + 1);
    // Evicted between entries only: an entry holds at most its parent's and a link target's fds.
    if (this.dirs.size >= DIR_CACHE) await this.dropDirs();
    const { fh: parent, path: parentPath } = await this.dir(parentRel);
    const entryPath = posix.join(parentPath, base);
    const isDir = h.type === 'directory';
    if (!this.root.writable(entryPath)) throw readOnly('open', entryPath);
    const mountAt = this.root.mountAt(entryPath);
    if (mountAt !== undefined) {
      // The top of a volume or bind: a directory entry sets its metadata, anything else would replace it.
      const st = await this.fs.lstat(mountAt);
      if (!isDir || !st.isDirectory()) throw systemError(`unlinkat ${entryPath}: device or resource busy`);
      await this.setMeta(mountAt, h, rel);
      return;
    }
    const at = fdPath(parent, base);
    // Most entries name nothing that exists yet: made in place at once (O_EXCL, no lstat, no
    // temporary name), and only an entry that meets something (EEXIST) takes the long way.
    if (await this.makeNew(at, h, rel, parentRel, tarEntry)) return;

    const existing = await this.fs.lstat(at).catch(() => null);
    if (existing) {
      const dst = posix.join(this.dest, rel);
      if (this.opts.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
        throw invalidParameter(`cannot overwrite directory "${dst}" with non-directory "${h.name}"`);
      }
      if (this.opts.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
        throw invalidParameter(`cannot overwrite non-directory "${dst}" with directory "${h.name}"`);
      }
      if (!(existing.isDirectory() && isDir)) {
        if (existing.isDirectory() && this.root.hasMountsBelow(entryPath)) throw systemError(`unlinkat ${entryPath}: device or resource busy`);
        if (existing.isDirectory()) await this.dropDirs(parent);
        await removeAllAt(parent, base, this.fs);
      }
    }

    switch (h.type) {
      case 'directory':
        if (!existing?.isDirectory()) await this.fs.mkdir(at, 0o700).catch(async (err: NodeJS.ErrnoException) => {
          // Another extract into the same container made it meanwhile.
          if (err.code !== 'EEXIST' || !(await this.fs.lstat(at)).isDirectory()) throw err;
        });
        break;
      case 'file':
      case 'other': {
        // Something was there: the file is made whole under a name of its own and renamed over
        // `at`, so the old inode (another link to it, a file a racing extract is still writing;
        // Docker lets the last writer win) is replaced, never written through.
        const tmp = fdPath(parent, this.tempName());
        await placeByRename(this.fs, tmp, at, async () => {
          if (!(await this.writeNewFile(tmp, h, tarEntry))) throw systemError(`open ${entryPath}: file exists`);
        });
        return;
      }
      case 'symlink': {
        if (this.symlinkBreaksOut(parentRel, h.linkname)) {
          throw invalidParameter(`invalid symlink "${h.name}" -> "${h.linkname}": outside of the destination`);
        }
        const tmp = fdPath(parent, this.tempName());
        await placeByRename(this.fs, tmp, at, async () => {
          await this.fs.symlink(h.linkname, tmp);
          await this.symlinkMeta(tmp, h);
        });
        return;
      }
      case 'link': {
        const target = layerRelativePath(h.linkname);
        if (target === '') throw invalidParameter(`invalid hardlink "${h.name}" -> "${h.linkname}"`);
        const ts = target.lastIndexOf('/');
        const missing = () => invalidParameter(`invalid hardlink "${h.name}" -> "${h.linkname}": target does not exist`);
        // The target's directory must exist: a link makes no directories.
        const tdir = await this.dir(ts < 0 ? '' : target.slice(0, ts), false).catch((err: unknown) => {
          throw err instanceof RootPathError && err.code === 'ENOENT' ? missing() : err;
        });
        const tname = target.slice(ts + 1);
        if (!(await this.fs.lstat(fdPath(tdir.fh, tname)).catch(() => null))) throw missing();
        const tpath = posix.join(tdir.path, tname);
        // On the host two binds may share a filesystem; in the container they are two mounts.
        if (this.root.mountOf(tpath) !== this.root.mountOf(entryPath) || this.root.mountAt(tpath) !== undefined) {
          throw systemError(`link ${tpath} ${entryPath}: invalid cross-device link`);
        }
        const tmp = fdPath(parent, this.tempName());
        await placeByRename(this.fs, tmp, at, () => this.fs.link(fdPath(tdir.fh, tname), tmp));
        // rename(2) leaves both names when they are links to one inode (`at` was the target's link already).
        await this.fs.unlink(tmp).catch(() => {});
        return; // shares the target's inode and metadata
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const path = `/proc/${process.pid}/fd/${parent.fd}/${base}`;
        const args = h.type === 'fifo' ? [path, 'p'] : [path, h.type === 'char' ? 'c' : 'b', String(h.devmajor), String(h.devminor)];
        await run('mknod', args);
        break;
      }
    }
    await this.setMeta(at, h, rel);
  }

  private owner(h: TarHeader): { uid: number; gid: number } {
    return this.opts.chown ?? { uid: h.uid, gid: h.gid };
  }

  /**
   * Makes a file, directory or symlink at `at` when nothing is there; false (nothing done) when
   * something is, or for the other kinds of entry. The symlink's breakout check comes first.
   */
  private async makeNew(at: string, h: TarHeader, rel: string, parentRel: string, tarEntry: TarEntry): Promise<boolean> {
    const exists = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    };
    switch (h.type) {
      case 'file':
      case 'other':
        return this.writeNewFile(at, h, tarEntry);
      case 'directory':
        if (!(await this.fs.mkdir(at, 0o700).then(() => true, exists))) return false;
        await this.setMeta(at, h, rel);
        return true;
      case 'symlink': {
        if (this.symlinkBreaksOut(parentRel, h.linkname)) return false;
        if (!(await this.fs.symlink(h.linkname, at).then(() => true, exists))) return false;
        await this.symlinkMeta(at, h);
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * Creates the file `at` (O_EXCL: false when something is there) and writes the entry's payload
   * and metadata through the fd that made it; removes it again if that fails (if the name is still
   * that file). Owner and mode are
   * set only where the kernel did not already give them (fstat sees inheritance from a set-gid
   * directory and a default ACL, which the umask alone would not tell).
   */
  private async writeNewFile(at: string, h: TarHeader, tarEntry: TarEntry): Promise<boolean> {
    let fh: OpenFile;
    try {
      fh = await this.fs.open(at, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, h.mode & 0o777);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      const parts = tarEntry.bufferedBody();
      await writeChunks(fh, parts ?? tarEntry.body());
      const { uid, gid } = this.owner(h);
      const st = await fh.stat();
      if (st.uid !== uid || st.gid !== gid) await fh.chown(uid, gid);
      // After the chown, which would clear set-id bits (the file was made without any).
      if ((st.mode & 0o7777) !== (h.mode & 0o7777)) await fh.chmod(h.mode & 0o7777);
      this.setXattrs(at, h);
      await fh.utimes(h.mtime, h.mtime);
    } catch (err) {
      // Only the file this call made goes: another extract may have replaced the name meanwhile.
      const made = await fh.stat().catch(() => null);
      await fh.close().catch(() => {});
      const now = made && (await this.fs.lstat(at).catch(() => null));
      if (now && now.ino === made.ino && now.dev === made.dev) await this.fs.unlink(at).catch(() => {});
      throw err;
    }
    await fh.close();
    return true;
  }

  private async symlinkMeta(at: string, h: TarHeader): Promise<void> {
    const { uid, gid } = this.owner(h);
    await this.fs.lchown(at, uid, gid);
    await this.fs.lutimes(at, h.mtime, h.mtime).catch(() => {});
  }

  /** Owner, mode and mtime through an O_PATH fd of the entry: never through a symlink put in its place. */
  private async setMeta(at: string, h: TarHeader, rel: string): Promise<void> {
    const fh = await this.fs.open(at, O_PATH | fsc.O_NOFOLLOW);
    try {
      const st = await fh.stat(); // fstat of the O_PATH fd: the entry itself
      if (st.isSymbolicLink()) return;
      const p = fdPath(fh);
      const { uid, gid } = this.owner(h);
      await this.fs.chown(p, uid, gid);
      await this.fs.chmod(p, h.mode & 0o7777);
      // `at` names the entry through its parent's fd; lsetxattr does not follow it if it was swapped for a symlink.
      this.setXattrs(at, h);
      if (h.type === 'directory') {
        this.dirTimes.push([rel, h.mtime]);
      } else {
        await this.fs.utimes(p, h.mtime, h.mtime);
      }
    } finally {
      await fh.close();
    }
  }

  private async setDirTimes(at: string, mtime: number): Promise<void> {
    const fh = await this.fs.open(at, O_PATH | fsc.O_NOFOLLOW).catch(() => null);
    if (!fh) return;
    try {
      if ((await fh.stat()).isDirectory()) await this.fs.utimes(fdPath(fh), mtime, mtime);
    } finally {
      await fh.close();
    }
  }

  /** Best effort for what the kernel refuses (as for a file system without user xattrs); invalid or overlay-private names refuse the archive. */
  private setXattrs(at: string, h: TarHeader): void {
    for (const [name, value] of h.xattrs) {
      checkWritableXattr(h.name, name);
      try {
        lsetxattr(at, name, value);
      } catch (err) {
        if (!xattrRefusedByKernel(err)) throw err;
      }
    }
  }
}

/** Bytes gathered before one writev: a file arrives in socket-sized chunks (16–64 KiB), each a syscall and a thread-pool round trip when written alone. */
const WRITE_BATCH = 512 * 1024;

/** Writes `chunks` to `fh` in order, several chunks per writev (at most WRITE_BATCH bytes and a chunk held). */
async function writeChunks(fh: OpenFile, chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<void> {
  let batch: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    let done = (await fh.writev(batch)).bytesWritten;
    // A short write (rare on a file) continues where it stopped.
    for (const b of batch) {
      if (done >= b.length) {
        done -= b.length;
        continue;
      }
      for (let off = done; off < b.length; ) off += (await fh.write(b, off)).bytesWritten;
      done = 0;
    }
    batch = [];
    size = 0;
  };
  for await (const chunk of chunks) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= WRITE_BATCH) await flush();
  }
  if (size > 0) await flush();
}
