/**
 * Writes a directory tree of a container's filesystem into a tar, walking it through open
 * directory fds (root.ts) so that a symlink swapped in during the walk is archived as
 * the symlink it is, never followed. Used by GET /archive, export and commit.
 *
 * Entries are as Docker's archive package writes them: directories with a trailing `/`, owners
 * and modes as on disk, mtimes in whole seconds, hardlinked files once with `link` entries after,
 * sockets left out. For commit, overlay whiteouts (char 0:0) become `.wh.<name>` files and an
 * opaque directory gets a `.wh..wh..opq` entry.
 */
import { spawn } from 'node:child_process';
import { constants as fsc, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { fdPath } from './root.js';
import type { TarWriteHeader, TarWriter } from '../lib/tar-writer.js';

export interface WalkOptions {
  /** Overlay upper dir mode: whiteouts and opaque dirs become Docker's `.wh.` entries. */
  whiteouts?: boolean;
  /** Relative paths (as written in the tar, without trailing /) of opaque directories. */
  opaqueDirs?: Set<string>;
  /** xattrs to record by relative path (security.capability). */
  xattrs?: Map<string, Map<string, Buffer>>;
  /** The source mounted over the entry named `tarName`, as an fd path, if one is (cp of a tree holding volumes). */
  mountAt?: (tarName: string) => string | undefined;
}

const CHUNK = 256 * 1024;

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

async function* readExactly(fh: FileHandle, size: number): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < size) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return; // shrank meanwhile: the writer zero-fills
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

export class TarWalker {
  /** dev:ino of hardlinked files already written -> their tar name. */
  private readonly linked = new Map<string, string>();

  constructor(
    private readonly out: TarWriter,
    private readonly opts: WalkOptions = {},
  ) {}

  /**
   * Archives the entry at `at` (an fd path, see root.ts) as `tarName`, and below it
   * its children as `tarName/child`. An empty `tarName` makes the root `/` (Docker's rebase of `/`).
   */
  async add(at: string, tarName: string): Promise<void> {
    const st = await lstat(at).catch(() => null);
    if (!st) return; // gone meanwhile
    await this.entry(at, st, tarName);
  }

  /** Archives the children of the directory `dir` with names `prefix + child`. */
  async addChildren(dir: FileHandle, prefix: string): Promise<void> {
    const names = (await readdir(fdPath(dir)).catch(() => [] as string[])).sort();
    for (const child of names) {
      const at = this.opts.mountAt?.(prefix + child) ?? fdPath(dir, child);
      const st = await lstat(at).catch(() => null);
      if (st) await this.entry(at, st, prefix + child);
    }
  }

  private async entry(at: string, st: Stats, tarName: string): Promise<void> {
    const type = typeOf(st);
    if (type === null) return;
    const rel = tarName.replace(/\/+$/, '');
    const base: TarWriteHeader = {
      name: tarName,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    const xattrs = this.opts.xattrs?.get(rel);
    if (xattrs?.size) base.xattrs = xattrs;

    if (type === 'char' && this.opts.whiteouts && st.rdev === 0) {
      const slash = rel.lastIndexOf('/');
      const name = slash < 0 ? `.wh.${rel}` : `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
      await this.out.add({ ...base, name, type: 'file', mode: 0o600, size: 0, xattrs: undefined });
      return;
    }
    switch (type) {
      case 'directory': {
        const dir = await open(at, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch(() => null);
        if (!dir) return; // replaced by something else since the lstat
        try {
          const now = await dir.stat();
          if (now.ino !== st.ino || now.dev !== st.dev) return;
          await this.out.add({ ...base, name: rel === '' ? '/' : `${rel}/` });
          if (this.opts.whiteouts && this.opts.opaqueDirs?.has(rel)) {
            await this.out.add({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', mode: base.mode & 0o777, size: 0, xattrs: undefined });
          }
          await this.addChildren(dir, `${rel}/`);
        } finally {
          await dir.close();
        }
        return;
      }
      case 'file': {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          const first = this.linked.get(key);
          if (first !== undefined) {
            await this.out.add({ ...base, type: 'link', linkname: first, size: 0 });
            return;
          }
        }
        const fh = await open(at, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY).catch(() => null);
        if (!fh) return;
        try {
          const now = await fh.stat();
          if (now.ino !== st.ino || now.dev !== st.dev || !now.isFile()) return;
          if (st.nlink > 1) this.linked.set(key, tarName);
          await this.out.add({ ...base, size: st.size }, readExactly(fh, st.size));
        } finally {
          await fh.close();
        }
        return;
      }
      case 'symlink': {
        const linkname = await readlink(at).catch(() => null);
        if (linkname === null) return;
        await this.out.add({ ...base, linkname });
        return;
      }
      case 'char':
      case 'block':
        await this.out.add({ ...base, devmajor: major(st.rdev), devminor: minor(st.rdev) });
        return;
      default:
        await this.out.add(base);
    }
  }
}

/**
 * The overlay metadata of an upper dir that commit needs: opaque directories and file
 * capabilities, by path relative to `root`. One getfattr run for the whole tree (-P: no symlink
 * is followed). Paths come back escaped; getfattr's octal escapes are decoded.
 */
export async function readOverlayXattrs(root: string): Promise<{ opaque: Set<string>; xattrs: Map<string, Map<string, Buffer>> }> {
  const out = await new Promise<string>((resolve) => {
    const child = spawn('getfattr', ['-R', '-P', '--absolute-names', '-d', '-e', 'hex', '-m', '^(trusted\\.overlay\\.opaque|security\\.capability)$', root], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')));
    child.on('error', () => resolve(''));
    child.on('close', () => resolve(text));
  });
  const opaque = new Set<string>();
  const xattrs = new Map<string, Map<string, Buffer>>();
  let current: string | null = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = Buffer.from(line.slice(8).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
      current = p === root ? '' : p.startsWith(root + '/') ? p.slice(root.length + 1) : null;
      continue;
    }
    const m = /^([^=]+)=0x([0-9a-f]*)$/.exec(line);
    if (!m || current === null) continue;
    const value = Buffer.from(m[2]!, 'hex');
    if (m[1] === 'trusted.overlay.opaque') {
      if (value.toString() === 'y') opaque.add(current);
    } else {
      let map = xattrs.get(current);
      if (!map) xattrs.set(current, (map = new Map<string, Buffer>()));
      map.set(m[1]!, value);
    }
  }
  return { opaque, xattrs };
}
