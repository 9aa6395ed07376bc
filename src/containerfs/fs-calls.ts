/**
 * The file calls a container root (root.ts) and the extractor (extract.ts) make, in two
 * flavours. `threadPoolFs` is node's promise API: each call runs on libuv's thread pool, so the
 * daemon's event loop never waits on a disk. `directFs` makes the same calls synchronously:
 * about 4 us each here against 35-40 us for a round trip through the thread pool, for a thread
 * that has nothing else to serve (an extraction worker, the CLI).
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  writevSync,
  type Stats,
} from 'node:fs';
import * as fsp from 'node:fs/promises';

/** An open file or directory: what the callers use of node's FileHandle. */
export interface OpenFile {
  readonly fd: number;
  stat(): Promise<Stats>;
  writev(buffers: Buffer[]): Promise<{ bytesWritten: number }>;
  write(buffer: Buffer, offset: number): Promise<{ bytesWritten: number }>;
  chown(uid: number, gid: number): Promise<void>;
  chmod(mode: number): Promise<void>;
  utimes(atime: number, mtime: number): Promise<void>;
  close(): Promise<void>;
}

export interface FsCalls {
  open(path: string, flags: number, mode?: number): Promise<OpenFile>;
  lstat(path: string): Promise<Stats>;
  stat(path: string): Promise<Stats>;
  readlink(path: string): Promise<string>;
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  utimes(path: string, atime: number, mtime: number): Promise<void>;
  lutimes(path: string, atime: number, mtime: number): Promise<void>;
}

export const threadPoolFs: FsCalls = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  lstat: (path) => fsp.lstat(path),
  stat: (path) => fsp.stat(path),
  readlink: (path) => fsp.readlink(path),
  realpath: (path) => fsp.realpath(path),
  readdir: (path) => fsp.readdir(path),
  mkdir: async (path, mode) => {
    await fsp.mkdir(path, { mode });
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  rmdir: (path) => fsp.rmdir(path),
  symlink: (target, path) => fsp.symlink(target, path),
  link: (existing, path) => fsp.link(existing, path),
  chown: (path, uid, gid) => fsp.chown(path, uid, gid),
  lchown: (path, uid, gid) => fsp.lchown(path, uid, gid),
  chmod: (path, mode) => fsp.chmod(path, mode),
  utimes: (path, atime, mtime) => fsp.utimes(path, atime, mtime),
  lutimes: (path, atime, mtime) => fsp.lutimes(path, atime, mtime),
};

class DirectFile implements OpenFile {
  private closed = false;

  constructor(readonly fd: number) {}

  async stat(): Promise<Stats> {
    return fstatSync(this.fd);
  }
  async writev(buffers: Buffer[]): Promise<{ bytesWritten: number }> {
    return { bytesWritten: writevSync(this.fd, buffers) };
  }
  async write(buffer: Buffer, offset: number): Promise<{ bytesWritten: number }> {
    return { bytesWritten: writeSync(this.fd, buffer, offset) };
  }
  async chown(uid: number, gid: number): Promise<void> {
    fchownSync(this.fd, uid, gid);
  }
  async chmod(mode: number): Promise<void> {
    fchmodSync(this.fd, mode);
  }
  async utimes(atime: number, mtime: number): Promise<void> {
    futimesSync(this.fd, atime, mtime);
  }
  /** Once only, as a FileHandle: the number may belong to another file after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export const directFs: FsCalls = {
  open: async (path, flags, mode) => new DirectFile(openSync(path, flags, mode)),
  lstat: async (path) => lstatSync(path),
  stat: async (path) => statSync(path),
  readlink: async (path) => readlinkSync(path),
  realpath: async (path) => realpathSync(path),
  readdir: async (path) => readdirSync(path),
  mkdir: async (path, mode) => {
    mkdirSync(path, { mode });
  },
  rename: async (from, to) => renameSync(from, to),
  unlink: async (path) => unlinkSync(path),
  rmdir: async (path) => rmdirSync(path),
  symlink: async (target, path) => symlinkSync(target, path),
  link: async (existing, path) => linkSync(existing, path),
  chown: async (path, uid, gid) => chownSync(path, uid, gid),
  lchown: async (path, uid, gid) => lchownSync(path, uid, gid),
  chmod: async (path, mode) => chmodSync(path, mode),
  utimes: async (path, atime, mtime) => utimesSync(path, atime, mtime),
  lutimes: async (path, atime, mtime) => lutimesSync(path, atime, mtime),
};
