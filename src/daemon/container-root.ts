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
 */
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** O_PATH (Linux): an fd that names a directory without opening it for reading. */
export const O_PATH = 0o10000000;
const MAX_SYMLINKS = 40;

/** An errno-style failure of a lookup inside the root (ENOENT, ENOTDIR, ELOOP). */
export class RootPathError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'ENOTDIR' | 'ELOOP',
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

/** `/proc/self/fd/<fd>`: the directory behind an fd, as a path the fs API accepts. */
export function fdPath(fh: FileHandle, name?: string): string {
  return name ? `/proc/self/fd/${fh.fd}/${name}` : `/proc/self/fd/${fh.fd}`;
}

/** Splits a container path into its components, dropping empty ones and `.`. */
export function pathParts(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** The result of a resolution: the directory that holds the last component, and that component. */
export class ResolvedPath {
  constructor(
    /** The directory holding `name` (or the entry itself when `name` is ''). */
    readonly dir: FileHandle,
    /** '' when the path is the container root itself. */
    readonly name: string,
    /** Where the path led, as an absolute path inside the container. */
    readonly containerPath: string,
    private readonly owned: FileHandle[],
  ) {}

  /** A path that reaches the entry without re-resolving anything (openat-like). */
  at(): string {
    // `/proc/self/fd/N` alone is the magic link (lstat sees a symlink); `N/.` is the directory.
    return this.name ? fdPath(this.dir, this.name) : `${fdPath(this.dir)}/.`;
  }

  async lstat(): Promise<Stats> {
    return lstat(this.at());
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

/** An open container root. All lookups below it stay below it. */
export class ContainerRoot {
  private constructor(
    readonly hostPath: string,
    readonly fh: FileHandle,
  ) {}

  static async open(hostPath: string): Promise<ContainerRoot> {
    return new ContainerRoot(hostPath, await open(hostPath, O_PATH | fsc.O_DIRECTORY));
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => {});
  }

  /**
   * Resolves `path` (absolute inside the container). Directory components are followed through
   * symlinks, interpreted inside the root; the last one only with `followFinal`. A missing last
   * component is not an error (the caller lstat's it); a missing directory on the way is ENOENT,
   * a non-directory ENOTDIR, too many links ELOOP.
   */
  async resolve(path: string, opts: ResolveOptions = {}): Promise<ResolvedPath> {
    // stack[i] is the fd of the directory names[0..i) lead to; stack[0] is the root (not owned).
    const stack: FileHandle[] = [this.fh];
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
        const at = fdPath(dir, part);
        let st: Stats | null;
        try {
          st = await lstat(at);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          st = null;
        }
        if (st?.isSymbolicLink() && (!last || opts.followFinal)) {
          if (++links > MAX_SYMLINKS) throw new RootPathError('ELOOP', path);
          const target = await readlink(at);
          if (target.startsWith('/')) await closeAbove(1);
          queue.unshift(...pathParts(target));
          continue;
        }
        if (last) {
          const owned = stack.slice(1);
          return new ResolvedPath(dir, part, '/' + [...names, part].join('/'), owned);
        }
        if (st === null) {
          if (!opts.createDirs) throw new RootPathError('ENOENT', path);
          await mkdir(at, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err;
          });
        } else if (!st.isDirectory()) {
          throw new RootPathError('ENOTDIR', path);
        }
        // Swapped for a symlink since the lstat: O_NOFOLLOW makes the open fail instead of leaving the root.
        const next = await open(at, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ELOOP' || err.code === 'ENOTDIR') throw new RootPathError('ENOTDIR', path);
          if (err.code === 'ENOENT') throw new RootPathError('ENOENT', path);
          throw err;
        });
        stack.push(next);
        names.push(part);
      }
      // The path is the root itself (or climbed back to a directory): name '' refers to stack top.
      const top = stack[stack.length - 1]!;
      return new ResolvedPath(top, '', '/' + names.join('/'), stack.slice(1));
    } catch (err) {
      await closeAbove(1);
      throw err;
    }
  }
}
