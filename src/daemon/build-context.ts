/**
 * The build context of POST /build: the request body — a tar (plain, gzip, bzip2, xz, zstd),
 * or a Dockerfile alone (`docker build - < Dockerfile`) — streamed into a private temporary
 * directory through the container extractor (containerfs/extract.ts: names cleaned, nothing
 * written outside the directory, symlinks never followed out of it). The body is never held in
 * memory whole. `.dockerignore` is read here for what the daemon must do with it: drop the
 * Dockerfile and .dockerignore themselves when they are ignored (the client sent them anyway).
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { readDockerignore } from '../build/dockerignore.js';
import { PatternMatcher } from '../lib/pattern-matcher.js';
import { invalidParameter } from '../lib/errors.js';
import { decompressed, peek } from '../layer/decompress.js';
import { removeAllAt } from '../containerfs/extract.js';
import { extractPool } from '../layer/extract-pool.js';
import { ContainerRoot } from '../containerfs/root.js';

/** A Dockerfile sent alone is read into memory; Docker caps it too. */
const MAX_DOCKERFILE = 10 * 1024 * 1024;

export const DEFAULT_DOCKERFILE = 'Dockerfile';

export class BuildContext {
  private constructor(
    readonly dir: string,
    readonly root: ContainerRoot,
    /** The Dockerfile's text. */
    readonly dockerfile: string,
  ) {}

  /** Extracts `body` into a new directory under `tmpRoot` and reads the Dockerfile at `dockerfilePath`. */
  static fromBody(body: Readable, tmpRoot: string, dockerfilePath: string): Promise<BuildContext> {
    return BuildContext.unpacked(body, tmpRoot, async (root, body) => {
      const { stream } = await decompressed(body);
      const { head, stream: replay } = await peek(stream, 512);
      const isTar = head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
      if (!isTar && head.length > 0 && !head.every((b) => b === 0)) {
        // A Dockerfile alone: the context is empty.
        const chunks: Buffer[] = [];
        let len = 0;
        for await (const c of replay) {
          len += (c as Buffer).length;
          if (len > MAX_DOCKERFILE) throw invalidParameter('Dockerfile too large');
          chunks.push(c as Buffer);
        }
        return Buffer.concat(chunks).toString('utf8');
      }
      if (head.length > 0) await extractContext(root, replay);
      else replay.resume();
      const dockerfile = await readDockerfile(root, dockerfilePath);
      await dropIgnoredBuildFiles(root, dockerfilePath);
      return dockerfile;
    });
  }

  /**
   * A context tar as a BuildKit client sent it, already filtered by its .dockerignore, with the
   * Dockerfile sent apart: nothing is read from or dropped out of it.
   */
  static fromSentContext(body: Readable, tmpRoot: string, dockerfile: string): Promise<BuildContext> {
    return BuildContext.unpacked(body, tmpRoot, async (root, body) => {
      await extractContext(root, body);
      return nonEmpty(dockerfile, DEFAULT_DOCKERFILE);
    });
  }

  /** The files of a directory a BuildKit client shares beside the context (a named context): no Dockerfile. */
  static fromSentFiles(body: Readable, tmpRoot: string): Promise<BuildContext> {
    return BuildContext.unpacked(body, tmpRoot, async (root, body) => {
      await extractContext(root, body);
      return '';
    });
  }

  private static async unpacked(body: Readable, tmpRoot: string, fill: (root: ContainerRoot, body: Readable) => Promise<string>): Promise<BuildContext> {
    const dir = await mkdtemp(join(tmpRoot, 'docker-builder'));
    let root: ContainerRoot | null = null;
    try {
      // A RUN's bind of the context shows its root as BuildKit's snapshot of it is (tmpRoot keeps others out).
      await chmod(dir, 0o755);
      root = await ContainerRoot.open(dir);
      return new BuildContext(dir, root, await fill(root, body));
    } catch (err) {
      body.resume();
      await root?.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Files already on disk under `contextDir`, in `dir` (a temporary directory owned from now on, removed by close): no Dockerfile. */
  static async ofDirectory(dir: string, contextDir: string): Promise<BuildContext> {
    try {
      return new BuildContext(dir, await ContainerRoot.open(contextDir), '');
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** A context already on disk (a git checkout under `dir`, owned from now on): reads the Dockerfile in `contextDir`. */
  static async fromCheckout(dir: string, contextDir: string, dockerfilePath: string): Promise<BuildContext> {
    let root: ContainerRoot | null = null;
    try {
      root = await ContainerRoot.open(contextDir);
      const dockerfile = await readDockerfile(root, dockerfilePath);
      await dropIgnoredBuildFiles(root, dockerfilePath);
      return new BuildContext(dir, root, dockerfile);
    } catch (err) {
      await root?.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.root.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Docker unpacks the context chrooted into it: a `..` above the root stays at the root. */
async function extractContext(root: ContainerRoot, tar: Readable): Promise<void> {
  await extractPool.extractInto(tar, root.spec(), '/', { noOverwriteDirNonDir: false, clampNames: true, chroot: 'destination' });
}

/** The Dockerfile's path inside the context: cleaned, relative, never leaving it. */
export function contextRelative(path: string): string {
  const clean = posix.normalize('/' + path).slice(1);
  return clean;
}

function nonEmpty(text: string, name: string): string {
  if (text === '') throw invalidParameter(`the Dockerfile (${name}) cannot be empty`);
  return text;
}

async function readDockerfile(root: ContainerRoot, path: string): Promise<string> {
  const rel = contextRelative(path || DEFAULT_DOCKERFILE);
  let r;
  try {
    r = await root.resolve('/' + rel, { followFinal: true });
  } catch {
    throw invalidParameter(`Cannot locate specified Dockerfile: ${path || DEFAULT_DOCKERFILE}`);
  }
  try {
    const st = await r.lstat().catch(() => null);
    if (!st || !st.isFile()) {
      // Docker also accepts the lower-case name when the default is missing.
      if (!path || path === DEFAULT_DOCKERFILE) {
        const lower = await root.resolve('/dockerfile', { followFinal: true }).catch(() => null);
        if (lower) {
          try {
            const lst = await lower.lstat().catch(() => null);
            if (lst?.isFile()) return nonEmpty(await readFile(lower.at(), 'utf8'), 'dockerfile');
          } finally {
            await lower.close();
          }
        }
      }
      throw invalidParameter(`Cannot locate specified Dockerfile: ${path || DEFAULT_DOCKERFILE}`);
    }
    if (st.size > MAX_DOCKERFILE) throw invalidParameter('Dockerfile too large');
    return nonEmpty(await readFile(r.at(), 'utf8'), path || DEFAULT_DOCKERFILE);
  } finally {
    await r.close();
  }
}

/** Docker's removeDockerfile: the Dockerfile and .dockerignore leave the context when .dockerignore names them. */
async function dropIgnoredBuildFiles(root: ContainerRoot, dockerfilePath: string): Promise<void> {
  const ignore = await root.resolve('/.dockerignore', { followFinal: false }).catch(() => null);
  if (!ignore) return;
  let patterns: string[];
  try {
    const st = await ignore.lstat().catch(() => null);
    if (!st?.isFile()) return;
    patterns = readDockerignore(await readFile(ignore.at(), 'utf8'));
  } finally {
    await ignore.close();
  }
  let matcher: PatternMatcher;
  try {
    matcher = new PatternMatcher(patterns);
  } catch (err) {
    throw invalidParameter(`failed to parse .dockerignore: ${(err as Error).message}`);
  }
  for (const f of ['.dockerignore', contextRelative(dockerfilePath || DEFAULT_DOCKERFILE)]) {
    if (!matcher.matches(f)) continue;
    const r = await root.resolve('/' + f, { followFinal: false }).catch(() => null);
    if (!r) continue;
    try {
      await removeAllAt(r.dir, r.name);
    } finally {
      await r.close();
    }
  }
}
