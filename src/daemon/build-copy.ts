/**
 * COPY and ADD sources: resolving them in the build context (or another stage's / image's
 * rootfs for `--from`) without leaving it, Go filepath.Match wildcards, the content hash the
 * classic builder puts in the step's command (`file:<sha256>`, `dir:…`, `multi:…`: names,
 * modes, owners, types, link targets and contents — not mtimes, as Docker's tarsum), and the
 * copy itself: a tar of the sources streamed into the layer's root through the container
 * extractor (owners set to the --chown identity, --chmod applied, local tar archives unpacked
 * by ADD).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc, type Stats } from 'node:fs';
import { chmod, chown, open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { invalidParameter } from '../lib/errors.js';
import { decompressed } from '../layer/decompress.js';
import { TarReader } from '../layer/tar-reader.js';
import { extractPool } from '../layer/extract-pool.js';
import type { WalkSpec } from '../containerfs/walk.js';
import { walkPool } from '../containerfs/walk-pool.js';
import { O_PATH, openRegularFile, type ContainerRoot, type ResolvedPath } from '../containerfs/root.js';
import { fdPath } from '../lib/fd-path.js';
import { PatternMatcher } from '../lib/pattern-matcher.js';
import { ModeChange } from '../lib/file-mode.js';
import { filters, type CopyFilterSpec } from '../containerfs/copy-filter.js';

export interface CopySource {
  /** Absolute path in the source root, resolved (symlinks followed). */
  path: string;
  /** The name as the user wrote or the wildcard matched (its basename names a copied file). */
  name: string;
  isDir: boolean;
  hash: string;
  /** BuildKit's --exclude and --parents below a directory source. */
  filter?: CopyFilterSpec;
}

/** BuildKit's COPY/ADD options that choose what of the sources is copied. */
export interface SourceSelection {
  excludes?: string[];
  parents?: boolean;
}

const hasWildcard = (s: string) => /[*?[]/.test(s);

/**
 * Whose sources are resolved, for the refusals: the instruction's name, whether they come from the
 * build context, and whether a BuildKit build asks (which cleans `..` at the context's root and
 * says a source is missing in its own words).
 */
export interface SourceOrigin {
  cmdName: string;
  fromContext: boolean;
  buildkit?: boolean;
}

/** A BuildKit cache record's ID (its identity.NewID: 25 base-36 characters), for its messages. */
function buildkitRefId(): string {
  const bytes = randomBytes(25);
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('');
}

/** BuildKit's refusal of a source that is not there (the contenthash of its copy's source ref). */
const buildkitNotFound = (abs: string) => invalidParameter(`failed to compute cache key: failed to calculate checksum of ref moby::${buildkitRefId()}: ${JSON.stringify(abs)}: not found`);

/**
 * Resolves the sources of one COPY/ADD in `root` as BuildKit selects them: with --parents each
 * source is the directory before its `/./` (the root without one) and what the rest of it matches
 * there (a path without wildcards must exist); sources of one directory are copied from it in one
 * walk. --exclude leaves out what its patterns match below each source.
 */
export async function resolveSelected(root: ContainerRoot, sources: string[], origin: SourceOrigin, sel: SourceSelection): Promise<CopySource[]> {
  const exclude = sel.excludes ?? [];
  try {
    new PatternMatcher(exclude);
  } catch (err) {
    throw invalidParameter(`invalid excludepatterns: ${(err as Error).message}`);
  }
  if (!sel.parents) return resolveSources(root, sources, origin, exclude.length ? { exclude } : undefined);
  const includes = new Map<string, string[]>();
  for (const src of sources) {
    const pivot = src.indexOf('/./');
    const parent = pivot < 0 ? '/' : src.slice(0, pivot);
    const pattern = posix.normalize('/' + (pivot < 0 ? src : src.slice(pivot + 3))).slice(1);
    if (!hasWildcard(parent) && !hasWildcard(pattern)) {
      const [required] = await locate(root, posix.join(parent, pattern), origin);
      await (await openSource(root, required!.path, required!.clean, origin)).r.close();
    }
    includes.set(parent, [...(includes.get(parent) ?? []), pattern]);
  }
  const out: CopySource[] = [];
  for (const [parent, include] of includes) out.push(...(await resolveSources(root, [parent], origin, { include, exclude })));
  return out;
}

/**
 * The absolute paths `src` names in `root`, a wildcard expanded against every path in the root
 * on a walk worker; Docker's messages for a path outside the context and a wildcard that matches
 * nothing.
 */
async function locate(root: ContainerRoot, src: string, origin: SourceOrigin): Promise<Array<{ path: string; clean: string }>> {
  const clean = posix.normalize(src);
  if (origin.fromContext && !origin.buildkit && (clean === '..' || clean.startsWith('../'))) throw invalidParameter(`Forbidden path outside the build context: ${src} ()`);
  const abs = posix.normalize('/' + clean);
  if (!hasWildcard(abs)) return [{ path: abs, clean }];
  const top = await root.resolve('/', { followFinal: true });
  let paths: string[];
  try {
    paths = await walkPool.glob(top.at(), abs);
  } finally {
    await top.close();
  }
  if (paths.length === 0) throw origin.buildkit ? buildkitNotFound(abs) : invalidParameter(`${origin.cmdName} failed: no source files were specified`);
  return paths.map((path) => ({ path, clean }));
}

/** The source at `path` resolved (links followed inside the root) with its lstat; Docker's message when it is missing. */
async function openSource(root: ContainerRoot, path: string, clean: string, origin: SourceOrigin): Promise<{ r: ResolvedPath; st: Stats }> {
  const r = await root.resolve(path, { followFinal: true }).catch(() => null);
  const st = r ? await r.lstat().catch(() => null) : null;
  if (r && st) return { r, st };
  await r?.close();
  if (origin.buildkit) throw buildkitNotFound(path);
  const { cmdName } = origin;
  throw invalidParameter(
    origin.fromContext ? `${cmdName} failed: file not found in build context or excluded by .dockerignore: stat ${clean}: file does not exist` : `${cmdName} failed: stat ${path}: file does not exist`,
  );
}

/** Resolves the sources of one COPY/ADD in `root` and hashes each (of what `filter` takes below a directory). */
export async function resolveSources(root: ContainerRoot, sources: string[], origin: SourceOrigin, filter?: CopyFilterSpec): Promise<CopySource[]> {
  const out: CopySource[] = [];
  for (const src of sources) {
    for (const { path, clean } of await locate(root, src, origin)) {
      const { r, st } = await openSource(root, path, clean, origin);
      try {
        const filtered = filters(filter) && st.isDirectory() ? filter : undefined;
        const hash = await walkPool.hash(r.at(), filtered);
        if (hash === undefined) throw invalidParameter(`${origin.cmdName} failed: stat ${path}: file does not exist`);
        out.push({ path: r.containerPath, name: path, isDir: st.isDirectory(), hash, ...(filtered ? { filter: filtered } : {}) });
      } finally {
        await r.close();
      }
    }
  }
  return out;
}

/** Docker's getSourceHashFromInfos. */
export function sourcesHash(sources: ReadonlyArray<Pick<CopySource, 'hash'>>): string {
  if (sources.length === 1) return sources[0]!.hash;
  return 'multi:' + createHash('sha256').update(sources.map((s) => s.hash).join(',')).digest('hex');
}

/** The hash of ADD's git source: the commit fetched and what selects the files copied from it. */
export function gitSourceHash(commit: string, ref: { subdir: string; submodules?: boolean }, keepGitDir: boolean): string {
  return 'git:' + createHash('sha256').update(JSON.stringify([commit, ref.subdir, keepGitDir, ref.submodules !== false])).digest('hex');
}

export interface CopyOptions {
  /** Owner of everything copied; undefined keeps the source's (COPY --from without --chown). */
  chown?: { uid: number; gid: number };
  /** BuildKit's --chmod (the classic builder refuses it): the copied entries' mode, an octal one also the made directories'. */
  chmod?: number | string;
  /** ADD: a local tar archive is unpacked into the destination. */
  decompress: boolean;
  /**
   * BuildKit's copier: every directory the copy makes is the --chown owner's (the classic builder
   * gives it only the first it makes).
   */
  buildkitMadeDirs?: boolean;
}

/**
 * Parses --chmod as BuildKit does: octal up to 07777, or a symbolic mode (lib/file-mode.ts),
 * kept as its text for the walk to apply to each entry.
 */
export function parseChmod(v: string): number | string {
  if (/^[0-7]+$/.test(v) && parseInt(v, 8) <= 0o7777) return parseInt(v, 8);
  try {
    ModeChange.parse(v);
  } catch (err) {
    if (err instanceof RangeError) throw invalidParameter(`invalid chmod parameter: '${v}'. it should be octal string and between 0 and 07777`);
    // BuildKit returns its mode parser's error as it is.
    throw invalidParameter('invalid syntax');
  }
  return v;
}

/**
 * The source opened for ADD's unpacking when it is a regular file holding a tar (plain or
 * compressed); undefined otherwise. Only a regular file is opened (openRegularFile): a FIFO in the
 * context held one of libuv's four threads in open(2) for good, and five such builds stopped
 * every file operation of the daemon; a device node's open reached the host's driver. Both are
 * copied as they are, as COPY does.
 */
async function openArchive(at: string): Promise<FileHandle | undefined> {
  const fh = await openRegularFile(at);
  if (!fh) return undefined;
  let keep = false;
  try {
    keep = await startsWithTarHeader(fh);
    return keep ? fh : undefined;
  } finally {
    if (!keep) await fh.close();
  }
}

/**
 * Docker's test for ADD (isArchivePath): the file, decompressed once whatever its compression,
 * yields a first tar header. Anything else (a broken xz, an xz inside a gzip) is copied as is.
 */
async function startsWithTarHeader(fh: FileHandle): Promise<boolean> {
  // Positional reads of its own: a stream made on the handle would close it when destroyed.
  const raw = Readable.from(
    (async function* () {
      for (let pos = 0; ; ) {
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, pos);
        if (bytesRead === 0) return;
        pos += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    })(),
  );
  let plain: Readable | undefined;
  try {
    plain = (await decompressed(raw)).stream;
    const first = await new TarReader(plain).entries().next();
    return first.done !== true;
  } catch {
    return false;
  } finally {
    plain?.destroy();
    raw.destroy();
  }
}

async function pipeInto(dest: ContainerRoot, destDir: string, opts: CopyOptions, spec: WalkSpec, filter?: CopyFilterSpec): Promise<void> {
  const tar = walkPool.tar(spec, { ...(opts.chmod !== undefined ? { chmod: opts.chmod } : {}), ...(filter ? { filter } : {}) });
  try {
    await extractPool.extractInto(tar, dest.spec(), destDir, { noOverwriteDirNonDir: false, chroot: 'destination', ...(opts.chown ? { chown: opts.chown } : {}) });
  } finally {
    tar.destroy();
    await tar.stopped;
  }
}

/** `dir` (absolute) and those of its parents that are not in `root` yet, deepest first. */
async function missingDirs(root: ContainerRoot, dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = posix.normalize(dir).replace(/\/+$/, '') || '/'; p !== '/' && !(await root.stat(p)); p = posix.dirname(p)) missing.push(p);
  return missing;
}

/** Whether the directories a copy makes get an owner or a mode of their own. */
const tendsMadeDirs = (opts: CopyOptions): boolean => opts.chown !== undefined || typeof opts.chmod === 'number';

/** The directories a copy made: the --chown owner's, and an octal --chmod's mode. */
async function settleMadeDirs(root: ContainerRoot, paths: string[], opts: CopyOptions): Promise<void> {
  const mode = typeof opts.chmod === 'number' ? opts.chmod : undefined;
  for (const p of paths) {
    const r = await root.resolve(p, { followFinal: false });
    try {
      if (!(await r.lstat()).isDirectory()) continue;
      if (opts.chown) await chown(r.at(), opts.chown.uid, opts.chown.gid);
      if (mode !== undefined) await chmod(r.at(), mode);
    } finally {
      await r.close();
    }
  }
}

/** Copies `sources` from `src` to `dest` (absolute, a trailing `/` meaning a directory) in `layer`. */
export async function copySources(src: ContainerRoot, sources: CopySource[], layer: ContainerRoot, dest: string, opts: CopyOptions): Promise<void> {
  // Without a trailing `/` the destination is a directory only if it is one (the classic builder refuses more than one source so).
  const destIsDir = dest.endsWith('/');
  for (const s of sources) {
    const r = await src.resolve(s.path, { followFinal: false });
    try {
      if (s.isDir) {
        const dir = await open(r.at(), O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
        // The destination made for a directory is the --chown owner's (moby's fixPermissions on a
        // new destination); the parents it needed stay root's, unless BuildKit copies.
        const missing = tendsMadeDirs(opts) ? await missingDirs(layer, dest) : [];
        try {
          await pipeInto(layer, dest, opts, { at: fdPath(dir), name: '', children: true }, s.filter);
        } finally {
          await dir.close();
        }
        // An empty directory (or a filter that leaves nothing) puts no entry in the tar: the destination is made all the same.
        await layer.mkdirAll(dest);
        await settleMadeDirs(layer, opts.buildkitMadeDirs ? missing : missing.slice(0, 1), opts);
        continue;
      }
      const fh = opts.decompress ? await openArchive(r.at()) : undefined;
      if (fh) {
        try {
          await extractPool.extractInto(fh.createReadStream({ start: 0, autoClose: false }), layer.spec(), dest, { noOverwriteDirNonDir: false, chroot: 'destination' });
        } finally {
          await fh.close();
        }
        continue;
      }
      let target = dest;
      if (destIsDir) target = posix.join(dest, posix.basename(s.name));
      else {
        if ((await layer.stat(dest))?.isDirectory()) target = posix.join(dest, posix.basename(s.name));
      }
      const at = r.at();
      // A file's missing parents are made for the --chown owner (moby's MkdirAllAndChown, only new ones).
      const made = tendsMadeDirs(opts) ? await missingDirs(layer, posix.dirname(target)) : [];
      await pipeInto(layer, posix.dirname(target), opts, { at, name: posix.basename(target) });
      await settleMadeDirs(layer, made, opts);
    } finally {
      await r.close();
    }
  }
}

