/**
 * What a BuildKit-syntax RUN mounts (`--mount=type=bind|cache|tmpfs|secret`, and a here-document
 * script under /dev/pipes) as the step container's HostConfig.Mounts, the host files and
 * directories behind them, and the mount points the run leaves in its layer.
 *
 * Bind sources resolve inside their root (the context, or a stage's or image's rootfs mounted
 * read-only) the way COPY's do: symlinks never lead out, and the resolved path has none left for
 * runc to follow. The context is shared read-only (writes to it would reach later steps); a
 * stage's rootfs is a temporary RW layer, so `rw` writes are dropped with it, as in BuildKit.
 * Cache directories come from build-cache-mounts.ts; a secret is a file in a private temporary
 * directory, never in a layer.
 */
import { chown, mkdtemp, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { RunMount } from '../build/run-mounts.js';
import type { MountSpec } from '../api/types.js';
import type { ContainerRoot } from '../containerfs/root.js';
import { invalidParameter } from '../lib/errors.js';

export interface RunMountDeps {
  /** The build context. */
  context: ContainerRoot;
  /** Where temporary files of the build go (removed at start after a crash: `docker-builder*`). */
  tmpRoot: string;
  /** The cache mount `id`'s directory, held until `release`. */
  cacheMount(id: string, target: string, perm: { mode: number; uid: number; gid: number }): Promise<{ dir: string; release: () => void }>;
  /** A stage's or image's rootfs for `from=`, read-only, with its cleanup. */
  mountFrom(from: string): Promise<{ root: ContainerRoot; cleanup: () => Promise<void> }>;
  /** The client's secret `id`, null when it has none. */
  secret?: (id: string) => Promise<Buffer | null>;
}

export interface PreparedMounts {
  mounts: MountSpec[];
  /** The mount points, absolute in the container. */
  targets: string[];
  cleanup(): Promise<void>;
}

/** Resolves `source` inside `root` to a host path with no symlink left in it. */
async function hostPathIn(root: ContainerRoot, source: string, what: string): Promise<string> {
  const r = await root.resolve(posix.normalize('/' + source), { followFinal: true }).catch(() => null);
  if (!r) throw invalidParameter(`failed to compute cache key: "${source}" not found in ${what}`);
  try {
    if (!(await r.lstat().catch(() => null))) throw invalidParameter(`failed to compute cache key: "${source}" not found in ${what}`);
    return join(root.hostPath, r.containerPath);
  } finally {
    await r.close();
  }
}

export async function prepareRunMounts(
  parsed: RunMount[],
  workdir: string,
  script: { name: string; content: string } | undefined,
  deps: RunMountDeps,
): Promise<PreparedMounts> {
  const mounts: MountSpec[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    for (const m of parsed) {
      const target = posix.isAbsolute(m.target) ? m.target : posix.join(workdir || '/', m.target);
      if (target === '/') throw invalidParameter('mount target cannot be the root directory');
      switch (m.type) {
        case 'bind': {
          let source: string;
          if (m.from) {
            const mounted = await deps.mountFrom(m.from);
            cleanups.push(mounted.cleanup);
            source = await hostPathIn(mounted.root, m.source, m.from);
          } else {
            if (!m.readonly) throw invalidParameter('rw bind mounts of the build context are not supported by this builder');
            source = await hostPathIn(deps.context, m.source, 'the build context');
          }
          mounts.push({ Type: 'bind', Source: source, Target: target, ReadOnly: m.readonly });
          break;
        }
        case 'cache': {
          if (m.from || m.source) throw invalidParameter('cache mounts with from= or source= are not supported by this builder');
          const cache = await deps.cacheMount(m.id, target, m);
          cleanups.push(() => Promise.resolve(cache.release()));
          mounts.push({ Type: 'bind', Source: cache.dir, Target: target, ReadOnly: m.readonly });
          break;
        }
        case 'tmpfs':
          mounts.push({ Type: 'tmpfs', Target: target, ...(m.size ? { TmpfsOptions: { SizeBytes: m.size } } : {}) });
          break;
        case 'secret': {
          const data = deps.secret ? await deps.secret(m.id) : null;
          if (data === null) {
            if (m.required) throw invalidParameter(`secret ${m.id}: not found`);
            break;
          }
          const dir = await mkdtemp(join(deps.tmpRoot, 'docker-builder-secret'));
          cleanups.push(() => rm(dir, { recursive: true, force: true }));
          const file = join(dir, 'secret');
          await writeFile(file, data, { mode: m.mode });
          await chown(file, m.uid, m.gid);
          mounts.push({ Type: 'bind', Source: file, Target: target, ReadOnly: true });
          break;
        }
      }
    }
    if (script) {
      const dir = await mkdtemp(join(deps.tmpRoot, 'docker-builder-pipes'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, script.name), script.content, { mode: 0o755 });
      mounts.push({ Type: 'bind', Source: dir, Target: '/dev/pipes', ReadOnly: true });
    }
    return { mounts, targets: mounts.map((m) => m.Target), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The parts of each target path that `root` lacks (they become mount points the run leaves behind). */
export async function missingMountPoints(root: ContainerRoot, targets: string[]): Promise<string[]> {
  const missing = new Set<string>();
  for (const t of targets) {
    if (t.startsWith('/dev/') || t === '/dev') continue;
    for (let p = t; p !== '/'; p = posix.dirname(p)) {
      if (await root.stat(p)) break;
      missing.add(p);
    }
  }
  // Deepest first, for removing.
  return [...missing].sort((a, b) => b.split('/').length - a.split('/').length);
}

/** Removes the mount points a run made (empty files and directories only), as BuildKit drops them from the layer. */
export async function removeMountPoints(root: ContainerRoot, paths: string[]): Promise<void> {
  for (const p of paths) {
    const r = await root.resolve(p, { followFinal: false }).catch(() => null);
    if (!r) continue;
    try {
      const st = await r.lstat().catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) {
        if ((await readdir(r.at())).length === 0) await rmdir(r.at());
      } else if (st.isFile() && st.size === 0) await rm(r.at());
    } finally {
      await r.close();
    }
  }
}
