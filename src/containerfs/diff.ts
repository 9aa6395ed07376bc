/**
 * GET /containers/{id}/changes (`docker diff`): what the container changed, read from its
 * overlay upper dir and compared with the layers below (the init layer and the image), with
 * Docker's rules (collectChanges): an entry of the upper dir is Added unless a lower layer has
 * it (Modified); a whiteout (char 0:0) is a Deletion; a directory present below with the same
 * size, mode and mtime is not reported; the parent of an addition or deletion is Modified.
 * An opaque directory hides everything below it: each hidden entry is a Deletion.
 * The upper dir is walked through directory fds, never through a symlink the container made, and
 * no deeper than MAX_TREE_DEPTH (one fd per level, see lib/tree-depth.ts).
 */
import { constants as fsc, type Stats } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { O_PATH } from './root.js';
import { fdPath } from '../lib/fd-path.js';
import { systemError } from '../lib/errors.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';
import { lgetxattr } from '../layer/xattr.js';
import { OPAQUE } from './walk.js';

/** Docker's FilesystemChange: Kind 0 modified, 1 added, 2 deleted. */
export interface ContainerChange {
  Path: string;
  Kind: number;
}

export const CHANGE_MODIFY = 0;
export const CHANGE_ADD = 1;
export const CHANGE_DELETE = 2;

type LowerState = { kind: 'absent' } | { kind: 'whiteout' } | { kind: 'present'; st: Stats };

const isWhiteout = (st: Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/** Looks `rel` up in a layer dir without following any symlink on the way. */
async function lookupLower(layer: string, rel: string): Promise<LowerState> {
  const parts = rel.split('/').filter(Boolean);
  let cur = layer;
  for (let i = 0; i < parts.length; i++) {
    cur = join(cur, parts[i]!);
    const st = await lstat(cur).catch(() => null);
    if (!st) return { kind: 'absent' };
    if (isWhiteout(st)) return { kind: 'whiteout' };
    if (i === parts.length - 1) return { kind: 'present', st };
    if (!st.isDirectory()) return { kind: 'absent' };
  }
  return { kind: 'absent' };
}

/** The first lower layer (top first) that knows `rel` decides whether it exists below. */
async function inLowers(lowers: string[], rel: string): Promise<Stats | null> {
  for (const l of lowers) {
    const s = await lookupLower(l, rel);
    if (s.kind === 'whiteout') return null;
    if (s.kind === 'present') return s.st;
  }
  return null;
}

/** Names below `rel` in the merged lower view (for what an opaque directory hides). */
async function lowerChildren(lowers: string[], rel: string): Promise<string[]> {
  const names = new Set<string>();
  const hidden = new Set<string>();
  for (const l of lowers) {
    const s = await lookupLower(l, rel);
    if (s.kind === 'whiteout') break;
    if (s.kind !== 'present' || !s.st.isDirectory()) continue;
    for (const n of await readdir(join(l, rel)).catch(() => [] as string[])) {
      if (hidden.has(n) || names.has(n)) continue;
      const st = await lstat(join(l, rel, n)).catch(() => null);
      if (st && isWhiteout(st)) hidden.add(n);
      else names.add(n);
    }
  }
  return [...names].sort();
}

/** Whether the directory at `at` (not followed if it is a link) hides what the layers below have there. */
const isOpaque = (at: string): boolean => lgetxattr(at, OPAQUE)?.toString() === 'y';

/** Changes of an upper dir over `lowers` (top first), in Docker's walk order. */
export async function containerChanges(upper: string, lowers: string[]): Promise<ContainerChange[]> {
  const changes: ContainerChange[] = [];
  const changedDirs = new Set<string>();
  const record = (path: string, kind: number, isDir: boolean) => {
    if (isDir) changedDirs.add(path);
    if (kind !== CHANGE_MODIFY) {
      const parent = path.slice(0, path.lastIndexOf('/')) || '/';
      if (parent !== '/' && !changedDirs.has(parent)) {
        changes.push({ Path: parent, Kind: CHANGE_MODIFY });
        changedDirs.add(parent);
      }
    }
    changes.push({ Path: path, Kind: kind });
  };

  const walk = async (dir: FileHandle, rel: string, depth: number): Promise<void> => {
    const names = (await readdir(fdPath(dir)).catch(() => [] as string[])).sort();
    const seen = new Set(names);
    const opaque = isOpaque(`${fdPath(dir)}/.`);
    const hiddenBelow = opaque ? (await lowerChildren(lowers, rel)).filter((n) => !seen.has(n)) : [];
    const entries = [...names.map((n) => ({ n, hidden: false })), ...hiddenBelow.map((n) => ({ n, hidden: true }))].sort((a, b) =>
      a.n < b.n ? -1 : a.n > b.n ? 1 : 0,
    );
    for (const { n, hidden } of entries) {
      const path = `${rel}/${n}`;
      if (hidden) {
        record(path, CHANGE_DELETE, false);
        continue;
      }
      const at = fdPath(dir, n);
      const st = await lstat(at).catch(() => null);
      if (!st) continue;
      if (isWhiteout(st)) {
        record(path, CHANGE_DELETE, false);
        continue;
      }
      const below = opaque ? null : await inLowers(lowers, path);
      let kind = CHANGE_ADD;
      let report = true;
      if (below) {
        kind = CHANGE_MODIFY;
        if (below.isDirectory() && st.isDirectory() && below.size === st.size && (below.mode & 0o7777) === (st.mode & 0o7777) && below.mtimeMs === st.mtimeMs) {
          report = isOpaque(at);
        }
      }
      if (report) record(path, kind, st.isDirectory());
      if (st.isDirectory()) {
        // Each level holds its directory open: a nesting past the bound fails, as PATH_MAX fails Docker's walk.
        if (depth + 1 >= MAX_TREE_DEPTH) throw systemError(tooDeep(path.slice(1)));
        // Gone or swapped for a link meanwhile: skipped. Anything else (EMFILE) fails the diff rather than cutting it short.
        const sub = await open(at, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ELOOP') return null;
          throw err;
        });
        if (!sub) continue;
        try {
          await walk(sub, path, depth + 1);
        } finally {
          await sub.close();
        }
      }
    }
  };
  const root = await open(upper, O_PATH | fsc.O_DIRECTORY);
  try {
    await walk(root, '', 0);
  } finally {
    await root.close();
  }
  return changes;
}
