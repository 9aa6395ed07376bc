/**
 * Paths inside a container's root filesystem, resolved the way the kernel resolves them inside a
 * chroot (Go's securejoin, openat2 RESOLVE_IN_ROOT), from userspace.
 *
 * The container may hold hostile symlinks (to `/`, to `../../..`) and may swap a directory for a
 * symlink while the daemon walks it. So no step uses a host path string below the root: every
 * lookup goes through an open directory fd, `/proc/self/fd/<dirfd>/<name>`, which is what
 * openat(dirfd, name) does (the magic link jumps to the directory itself; only `name` is looked
 * up, and its last component is not followed with O_NOFOLLOW / lstat). Symlink contents are
 * interpreted here, relative to the directory they sit in, and `..` never climbs above the root.
 *
 * The container's volumes and bind mounts can be laid over the root (`RootMount`), as Docker
 * mounts them into its private view of the rootfs for cp: a lookup that reaches a mount point's
 * (resolved) destination continues in the mount's source, and everything else stays as it is —
 * symlinks inside a volume are still interpreted against the container root and `..` from the
 * volume's top climbs to the mount point's parent in the container, never to the source's parent
 * on the host. The host is not touched: no mount is made. Read-only mounts and a read-only rootfs
 * are enforced here (`writable`), since the sources themselves are writable on the host.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { threadPoolFs, type FsCalls, type OpenFile } from './fs-calls.js';
import { posix } from 'node:path';
import { systemError } from '../lib/errors.js';
import { fdPath } from '../lib/fd-path.js';

/** O_PATH (Linux): an fd that names a directory without opening it for reading. */
export const O_PATH = 0o10000000;
const MAX_SYMLINKS = 40;

/** An errno-style failure of a lookup inside the root (ENOENT, ENOTDIR, ELOOP). */
export class RootPathError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'EROFS',
    readonly path: string,
  ) {
    super(`${code}: ${path}`);
    this.name = 'RootPathError';
  }
}

export function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}


/** Splits a container path into its components, dropping empty ones and `.`. */
export function pathParts(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** The result of a resolution: the directory that holds the last component, and that component. */
export class ResolvedPath {
  constructor(
    private readonly fs: FsCalls,
    /** The directory holding `name` (or the entry itself when `name` is ''). */
    readonly dir: OpenFile,
    /** '' when the path is the container root itself. */
    readonly name: string,
    /** Where the path led, as an absolute path inside the container. */
    readonly containerPath: string,
    private readonly owned: OpenFile[],
  ) {}

  /** A path that reaches the entry without re-resolving anything (openat-like). */
  at(): string {
    // `/proc/self/fd/N` alone is the magic link (lstat sees a symlink); `N/.` is the directory.
    return this.name ? fdPath(this.dir, this.name) : `${fdPath(this.dir)}/.`;
  }

  async lstat(): Promise<Stats> {
    return this.fs.lstat(this.at());
  }

  async close(): Promise<void> {
    await Promise.all(this.owned.map((f) => f.close().catch(() => {})));
  }
}

export interface ResolveOptions {
  /** Follow a symlink in the last component (as stat does); default false (as lstat does). */
  followFinal?: boolean;
  /** Create missing directories on the way (mode 0755), as MkdirAll would. */
  createDirs?: boolean;
}

/** A volume or bind mount laid over the root for the lookups. */
export interface RootMount {
  /** Where it is mounted in the container (resolved inside the root when the root is opened). */
  destination: string;
  /** The host path mounted there (a directory or a file). */
  source: string;
  readOnly: boolean;
}

export interface RootOptions {
  /** Laid over the root in this order's depth (parents first), as the runtime mounts them. */
  mounts?: RootMount[];
  /** The root itself refuses writes (HostConfig.ReadonlyRootfs). */
  readonlyRootfs?: boolean;
  /** How its file calls are made (default: on libuv's thread pool). */
  fs?: FsCalls;
}

/** What opens a root again on another thread (an extraction worker): its options but the calls. */
export interface RootSpec {
  hostPath: string;
  mounts: RootMount[];
  readonlyRootfs: boolean;
}

/** A mount point, opened: the source as `name` in the host directory `parent`. */
interface OpenMount {
  parent: OpenFile;
  name: string;
  isDir: boolean;
  readOnly: boolean;
}

const depth = (p: string) => pathParts(p).length;

/** An open container root. All lookups below it stay below it. */
export class ContainerRoot {
  /** Mounts by resolved container path. */
  private readonly mounts = new Map<string, OpenMount>();
  private readonlyRootfs = false;
  private mountSpecs: RootMount[] = [];

  private constructor(
    readonly hostPath: string,
    readonly fh: OpenFile,
    readonly fs: FsCalls,
  ) {}

  static async open(hostPath: string, opts: RootOptions = {}): Promise<ContainerRoot> {
    const fs = opts.fs ?? threadPoolFs;
    const root = new ContainerRoot(hostPath, await fs.open(hostPath, O_PATH | fsc.O_DIRECTORY), fs);
    root.readonlyRootfs = !!opts.readonlyRootfs;
    root.mountSpecs = opts.mounts ?? [];
    try {
      const sorted = [...(opts.mounts ?? [])].sort((a, b) => depth(a.destination) - depth(b.destination));
      for (const m of sorted) await root.addMount(m);
    } catch (err) {
      await root.close();
      throw err;
    }
    return root;
  }

  /**
   * Lays `m` over the root. Its destination is resolved as the runtime resolves it (through the
   * container's symlinks and the mounts laid so far); a source missing on the host is left out,
   * as nothing would be mounted there either.
   */
  private async addMount(m: RootMount): Promise<void> {
    const source = await this.fs.realpath(m.source).catch(() => null);
    if (source === null) return;
    const st = await this.fs.stat(source);
    const parent = await this.fs.open(posix.dirname(source), O_PATH | fsc.O_DIRECTORY);
    let key = posix.normalize(posix.join('/', m.destination));
    try {
      const r = await this.resolve(key, { followFinal: true });
      key = r.containerPath;
      await r.close();
    } catch {
      // A missing directory on the way: the runtime would make it; the lexical path stands.
    }
    const old = this.mounts.get(key);
    if (old) await old.parent.close().catch(() => {});
    this.mounts.set(key, { parent, name: source === '/' ? '' : posix.basename(source), isDir: st.isDirectory(), readOnly: m.readOnly });
  }

  /** How to open this root again elsewhere (see RootSpec). */
  spec(): RootSpec {
    return { hostPath: this.hostPath, mounts: this.mountSpecs, readonlyRootfs: this.readonlyRootfs };
  }

  async close(): Promise<void> {
    for (const m of this.mounts.values()) await m.parent.close().catch(() => {});
    this.mounts.clear();
    await this.fh.close().catch(() => {});
  }

  /** An fd path (see `ResolvedPath.at`) of the source mounted at the resolved container path `p`, if one is. */
  mountAt(p: string): string | undefined {
    const m = this.mounts.get(p);
    if (!m) return undefined;
    return m.name ? fdPath(m.parent, m.name) : `${fdPath(m.parent)}/.`;
  }

  /** The mounts strictly below the resolved container path `p`: their destinations and, as fd paths, their sources. */
  mountsBelow(p: string): Array<[string, string]> {
    const prefix = p === '/' ? '/' : p + '/';
    return [...this.mounts.keys()].filter((dest) => dest.startsWith(prefix)).map((dest) => [dest, this.mountAt(dest)!]);
  }

  /** The destination of the innermost mount holding the resolved container path `p`; '' for the root's own filesystem. */
  mountOf(p: string): string {
    let best = '';
    for (const dest of this.mounts.keys()) {
      if ((p === dest || p.startsWith(dest + '/')) && dest.length > best.length) best = dest;
    }
    return best;
  }

  /** Whether a mount point lies below the resolved container path `p` (it cannot be removed then). */
  hasMountsBelow(p: string): boolean {
    return this.mountsBelow(p).length > 0;
  }

  /** Whether the resolved container path `p` may be written (its mount, or the rootfs, is not read-only). */
  writable(p: string): boolean {
    const dest = this.mountOf(p);
    return dest === '' ? !this.readonlyRootfs : !this.mounts.get(dest)!.readOnly;
  }

  /** What is at `path` (symlinks followed inside the root), as stat(2); undefined when nothing is. */
  async stat(path: string): Promise<Stats | undefined> {
    const r = await resolveExisting(this, path);
    if (!r) return undefined;
    try {
      return await r.lstat().catch(gone);
    } finally {
      await r.close();
    }
  }

  /**
   * Makes the directory `path` and its missing parents (mode 0755), following symlinks inside the
   * root as MkdirAll on a securejoin'ed path does. RootPathError ENOTDIR when a component is not a
   * directory.
   */
  async mkdirAll(path: string): Promise<void> {
    const r = await this.resolve(path, { followFinal: true, createDirs: true });
    try {
      if (!r.name) return;
      await mkdir(r.at(), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      if (!(await r.lstat()).isDirectory()) throw new RootPathError('ENOTDIR', path);
    } finally {
      await r.close();
    }
  }

  /**
   * Resolves `path` (absolute inside the container). Directory components are followed through
   * symlinks, interpreted inside the root; the last one only with `followFinal`. A missing last
   * component is not an error (the caller lstat's it); a missing directory on the way is ENOENT,
   * a non-directory ENOTDIR, too many links ELOOP.
   */
  async resolve(path: string, opts: ResolveOptions = {}): Promise<ResolvedPath> {
    // stack[i] is the fd of the directory names[0..i) lead to; stack[0] is the root (not owned).
    const stack: OpenFile[] = [this.fh];
    const names: string[] = [];
    const closeAbove = async (depth: number) => {
      while (stack.length > depth) {
        await stack.pop()!.close().catch(() => {});
        names.pop();
      }
    };
    const queue = pathParts(path);
    let links = 0;
    try {
      while (queue.length) {
        const part = queue.shift()!;
        if (part === '..') {
          if (stack.length > 1) await closeAbove(stack.length - 1);
          continue;
        }
        const last = queue.length === 0;
        const dir = stack[stack.length - 1]!;
        const mount = this.mounts.get('/' + [...names, part].join('/'));
        if (mount) {
          // A mount point: the lookup goes on in the source, the container path stays as it is.
          if (last) return new ResolvedPath(this.fs, mount.parent, mount.name, '/' + [...names, part].join('/'), stack.slice(1));
          if (!mount.isDir) throw new RootPathError('ENOTDIR', path);
          stack.push(await this.fs.open(mount.name ? fdPath(mount.parent, mount.name) : fdPath(mount.parent), O_PATH | fsc.O_DIRECTORY));
          names.push(part);
          continue;
        }
        const at = fdPath(dir, part);
        let st: Stats | null;
        try {
          st = await this.fs.lstat(at);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          st = null;
        }
        if (st?.isSymbolicLink() && (!last || opts.followFinal)) {
          if (++links > MAX_SYMLINKS) throw new RootPathError('ELOOP', path);
          const target = await this.fs.readlink(at);
          if (target.startsWith('/')) await closeAbove(1);
          queue.unshift(...pathParts(target));
          continue;
        }
        if (last) {
          const owned = stack.slice(1);
          return new ResolvedPath(this.fs, dir, part, '/' + [...names, part].join('/'), owned);
        }
        if (st === null) {
          if (!opts.createDirs) throw new RootPathError('ENOENT', path);
          if (!this.writable('/' + [...names, part].join('/'))) throw new RootPathError('EROFS', path);
          await this.fs.mkdir(at, 0o755).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err;
          });
        } else if (!st.isDirectory()) {
          throw new RootPathError('ENOTDIR', path);
        }
        // Swapped for a symlink since the lstat: O_NOFOLLOW makes the open fail instead of leaving the root.
        const next = await this.fs.open(at, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ELOOP' || err.code === 'ENOTDIR') throw new RootPathError('ENOTDIR', path);
          if (err.code === 'ENOENT') throw new RootPathError('ENOENT', path);
          throw err;
        });
        stack.push(next);
        names.push(part);
      }
      // The path is the root itself (or climbed back to a directory): name '' refers to stack top.
      const top = stack[stack.length - 1]!;
      return new ResolvedPath(this.fs, top, '', '/' + names.join('/'), stack.slice(1));
    } catch (err) {
      await closeAbove(1);
      throw err;
    }
  }
}

/** Runs `fn` with `rootfs` opened as a ContainerRoot, closed afterwards. */
async function withRoot<T>(rootfs: string, fn: (root: ContainerRoot) => Promise<T>): Promise<T> {
  const root = await ContainerRoot.open(rootfs);
  try {
    return await fn(root);
  } finally {
    await root.close();
  }
}

/** Resolves `path` in `root` following a final symlink; undefined when it leads nowhere (ENOENT, ENOTDIR, ELOOP). */
async function resolveExisting(root: ContainerRoot, path: string): Promise<ResolvedPath | undefined> {
  try {
    return await root.resolve(path, { followFinal: true });
  } catch (err) {
    if (err instanceof RootPathError) return undefined;
    throw err;
  }
}

const gone = (err: NodeJS.ErrnoException): undefined => {
  // ELOOP: the entry became a symlink after it was resolved (a swap); it is not followed.
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ELOOP') return undefined;
  throw err;
};

/**
 * Most bytes readFileInRoot reads. The files it reads (passwd, group) are read at every start,
 * exec and health probe, and a container can make them as large as it likes: a sparse file of a
 * few GB cost the daemon that much memory per read. Go's reader of these files (moby/sys/user)
 * streams them; no real one comes near this size.
 */
const MAX_ROOT_FILE = 32 * 1024 * 1024;

/**
 * The regular file at the fd path `at` (see ResolvedPath.at), opened for reading; undefined when
 * it is missing or anything else. The entry is pinned first with O_PATH|O_NOFOLLOW, which opens
 * nothing (a symlink swapped in meanwhile is not followed), and only a regular file is then
 * opened, through that fd: an open(2) of a device node reaches the host's driver, with its effects
 * (a watchdog is armed by it), and an image, a build context or a container (CAP_MKNOD) can put
 * such nodes where the daemon expects a file. O_NONBLOCK still guards against a FIFO.
 */
export async function openRegularFile(at: string): Promise<FileHandle | undefined> {
  const pinned = await open(at, O_PATH | fsc.O_NOFOLLOW).catch(gone);
  if (!pinned) return undefined;
  try {
    if (!(await pinned.stat()).isFile()) return undefined;
    // The magic link reopens the pinned inode itself (O_NOFOLLOW would refuse the link).
    return await open(fdPath(pinned), fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  } finally {
    await pinned.close();
  }
}

/**
 * The content of the regular file at `path` inside `rootfs`, as the container sees it (symlinks
 * followed inside the root); undefined when it is missing or not a regular file (opened with
 * openRegularFile, so neither a symlink nor a device or FIFO is opened). A file larger than
 * MAX_ROOT_FILE is an error.
 */
export async function readFileInRoot(rootfs: string, path: string): Promise<Buffer | undefined> {
  return withRoot(rootfs, async (root) => {
    const r = await resolveExisting(root, path);
    if (!r) return undefined;
    try {
      const fh = await openRegularFile(r.at());
      if (!fh) return undefined;
      try {
        // Read in chunks up to the bound, however the file grows meanwhile.
        const chunks: Buffer[] = [];
        let n = 0;
        for (;;) {
          const chunk = Buffer.allocUnsafe(64 * 1024);
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
          if (bytesRead === 0) break;
          n += bytesRead;
          if (n > MAX_ROOT_FILE) throw systemError(`${path} in the container is larger than ${MAX_ROOT_FILE >> 20} MiB`);
          chunks.push(chunk.subarray(0, bytesRead));
        }
        return Buffer.concat(chunks, n);
      } finally {
        await fh.close();
      }
    } finally {
      await r.close();
    }
  });
}

/**
 * The directory at `path` inside `rootfs` (symlinks followed inside the root), opened O_PATH;
 * undefined when it is missing or not a directory. Its content is reached through
 * `/proc/self/fd/<fd>/`, never through a host path a swap could redirect.
 */
export async function openDirInRoot(rootfs: string, path: string): Promise<FileHandle | undefined> {
  return withRoot(rootfs, async (root) => {
    const r = await resolveExisting(root, path);
    if (!r) return undefined;
    try {
      return await open(r.at(), O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch(gone);
    } finally {
      await r.close();
    }
  });
}

/** What is at `path` inside `rootfs` (symlinks followed inside the root), as stat(2); undefined when nothing is. */
export async function statInRoot(rootfs: string, path: string): Promise<Stats | undefined> {
  return withRoot(rootfs, (root) => root.stat(path));
}

/** ContainerRoot.mkdirAll of `path` inside `rootfs`. */
export async function mkdirAllInRoot(rootfs: string, path: string): Promise<void> {
  await withRoot(rootfs, (root) => root.mkdirAll(path));
}
