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
 * security.capability), then mtimes; directory mtimes last, after their contents.
 */
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidParameter, systemError } from '../lib/errors.js';
import type { TarHeader, TarReader } from './tar-reader.js';

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';

/**
 * Cleans a tar entry name to a path relative to the layer root ('' is the root itself).
 * Throws InvalidParameter when the name escapes the layer.
 */
export function layerRelativePath(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
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

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? systemError(`${cmd} is not installed (needed to extract this layer)`) : e),
    );
    child.on('close', (code) => (code === 0 ? resolve() : reject(systemError(`${cmd} ${args.join(' ')}: ${err.trim() || `exit ${code}`}`))));
    if (input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

/** getfattr's dump-format escaping for a path (octal escapes for unsafe bytes). */
function escapeDumpPath(p: string): string {
  let s = '';
  for (const byte of Buffer.from(p, 'utf8')) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d) s += '\\' + byte.toString(8).padStart(3, '0');
    else s += String.fromCharCode(byte);
  }
  return s;
}

export class LayerExtractor {
  /** Directories known to be real directories inside the layer (relative paths). */
  private readonly dirs = new Set<string>(['']);
  private readonly dirTimes: Array<[string, number]> = [];
  private readonly xattrs = new Map<string, Map<string, Buffer>>();
  private size = 0;

  constructor(private readonly root: string) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /** Makes sure every parent of `rel` is a real directory inside the layer; never follows a symlink. */
  private async ensureParents(rel: string): Promise<void> {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      if (this.dirs.has(cur)) continue;
      const st = await lstat(this.abs(cur)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      if (st === null) {
        await mkdir(this.abs(cur), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw invalidParameter(`invalid tar entry: parent ${JSON.stringify(cur)} of ${JSON.stringify(rel)} is a symlink`);
      } else if (!st.isDirectory()) {
        throw invalidParameter(`invalid tar entry: parent ${JSON.stringify(cur)} of ${JSON.stringify(rel)} is not a directory`);
      }
      this.dirs.add(cur);
    }
  }

  /** Removes whatever is at `rel` (unless both it and the new entry are directories). */
  private async clear(rel: string, keepDir: boolean): Promise<boolean> {
    const st = await lstat(this.abs(rel)).catch(() => null);
    if (!st) return false;
    if (keepDir && st.isDirectory()) return true;
    await rm(this.abs(rel), { recursive: true, force: true });
    this.xattrs.delete(rel);
    if (st.isDirectory()) {
      for (const d of this.dirs) if (d === rel || d.startsWith(rel + '/')) this.dirs.delete(d);
      for (const x of this.xattrs.keys()) if (x === rel || x.startsWith(rel + '/')) this.xattrs.delete(x);
    }
    return false;
  }

  private async mknod(rel: string, type: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> {
    const args = type === 'p' ? [this.abs(rel), 'p'] : [this.abs(rel), type, String(major), String(minor)];
    await run('mknod', args);
  }

  private async setMeta(rel: string, h: TarHeader, isSymlink: boolean): Promise<void> {
    const p = this.abs(rel);
    await lchown(p, h.uid, h.gid);
    if (!isSymlink) await chmod(p, h.mode);
    if (h.xattrs.size) this.xattrs.set(rel, new Map(h.xattrs));
  }

  async extract(reader: TarReader): Promise<ExtractResult> {
    for await (const entry of reader.entries()) {
      const h = entry.header;
      const rel = layerRelativePath(h.name);
      const base = rel.slice(rel.lastIndexOf('/') + 1);
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';

      if (base.startsWith(WHITEOUT_PREFIX)) {
        await entry.skip();
        await this.ensureParents(rel);
        if (base === WHITEOUT_OPAQUE) {
          this.addXattr(parent, 'trusted.overlay.opaque', Buffer.from('y'));
        } else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
          const target = parent ? `${parent}/${base.slice(WHITEOUT_PREFIX.length)}` : base.slice(WHITEOUT_PREFIX.length);
          await this.clear(target, false);
          await this.mknod(target, 'c', 0, 0);
          await lchown(this.abs(target), h.uid, h.gid);
        }
        continue;
      }

      if (rel === '') {
        // The layer root itself ("./"): keep the directory, take its metadata.
        await entry.skip();
        if (h.type === 'directory') {
          await this.setMeta('', h, false);
          this.dirTimes.push(['', h.mtime]);
        }
        continue;
      }

      await this.ensureParents(rel);
      const keptDir = await this.clear(rel, h.type === 'directory');
      const p = this.abs(rel);
      switch (h.type) {
        case 'directory':
          if (!keptDir) await mkdir(p, { mode: 0o700 });
          this.dirs.add(rel);
          await entry.skip();
          await this.setMeta(rel, h, false);
          this.dirTimes.push([rel, h.mtime]);
          continue;
        case 'file':
        case 'other': {
          const fh = await open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
          try {
            for await (const chunk of entry.body()) {
              await fh.write(chunk);
              this.size += chunk.length;
            }
          } finally {
            await fh.close();
          }
          break;
        }
        case 'symlink':
          await entry.skip();
          await symlink(h.linkname, p);
          await this.setMeta(rel, h, true);
          await lutimes(p, h.mtime, h.mtime);
          continue;
        case 'link': {
          await entry.skip();
          const target = layerRelativePath(h.linkname);
          if (target === '') throw invalidParameter(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}`);
          await this.ensureParents(target);
          const st = await lstat(this.abs(target)).catch(() => null);
          if (!st || st.isDirectory()) {
            throw invalidParameter(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: target is not in the layer`);
          }
          await link(this.abs(target), p);
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
      await this.setMeta(rel, h, false);
      await lutimes(p, h.mtime, h.mtime);
    }
    await this.applyXattrs();
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [rel, mtime] = this.dirTimes[i];
      if (this.dirs.has(rel)) await lutimes(this.abs(rel), mtime, mtime).catch(() => {});
    }
    return { size: this.size };
  }

  private addXattr(rel: string, name: string, value: Buffer): void {
    let m = this.xattrs.get(rel);
    if (!m) this.xattrs.set(rel, (m = new Map()));
    m.set(name, value);
  }

  /** One `setfattr --restore` for the whole layer instead of a spawn per attribute. */
  private async applyXattrs(): Promise<void> {
    if (this.xattrs.size === 0) return;
    let dump = '';
    for (const [rel, attrs] of this.xattrs) {
      dump += `# file: ${escapeDumpPath(this.abs(rel))}\n`;
      for (const [name, value] of attrs) dump += `${name}=0x${value.toString('hex')}\n`;
      dump += '\n';
    }
    await run('setfattr', ['-h', '--restore=-'], dump);
  }
}
