/**
 * What a BuildKit-syntax RUN mounts (`--mount=type=bind|cache|tmpfs|secret`, and a here-document
 * script under /dev/pipes) as the step container's HostConfig.Mounts, the host files and
 * directories behind them, and the mount points the run leaves in its layer.
 *
 * Bind sources resolve inside their root (the context, or a stage's or image's rootfs mounted
 * read-only) the way COPY's do: symlinks never lead out, and the resolved path has none left for
 * runc to follow. The context itself is never written: a read-only bind shares it, an `rw` one
 * gets a copy-on-write view of it (an overlay over the source directory, or a copy of a file)
 * whose writes are dropped after the step, as BuildKit drops them; a stage's rootfs is a
 * temporary RW layer, so `rw` writes are dropped with it.
 * Cache directories come from build-cache-mounts.ts; a secret is a file in a private temporary
 * directory, never in a layer. An ssh mount is a unix socket listening in a private temporary
 * directory of the host's, each connection to it carried to the client's agent (SshAgents).
 */
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { SshAgents } from '../api/backend.js';
import { noSshKey, type RunMount } from '../build/run-mounts.js';
import type { MountSpec } from '../api/types.js';
import type { ContainerRoot } from '../containerfs/root.js';
import { invalidParameter } from '../lib/errors.js';
import { mountFilesystem, unmountFilesystem } from '../lib/mounts.js';
import { copyUp } from '../volume/copy-up.js';
import { listenSsh } from './ssh-agent-socket.js';

export interface RunMountDeps {
  /** The build context. */
  context: ContainerRoot;
  /** Where temporary files of the build go (removed at start after a crash: `docker-builder*`). */
  tmpRoot: string;
  /** The cache mount `id`'s directory (see CacheMountStore.acquire), held until `release`. */
  cacheMount(id: string, target: string, perm: { mode: number; uid: number; gid: number }, opts: { key?: string; fill?: (dir: string) => Promise<void> }): Promise<{ dir: string; release: () => void }>;
  /** The image a `from=` names (a stage's, a named context's or an image by name). */
  imageOf(from: string): Promise<string>;
  /** An image's rootfs, read-only, with its cleanup. */
  mountImage(imageId: string): Promise<{ root: ContainerRoot; cleanup: () => Promise<void> }>;
  /** The client's secret `id`, null when it has none. */
  secret?: (id: string) => Promise<Buffer | null>;
  /** The client's ssh agents; none when it has no session (the classic API). */
  ssh?: SshAgents;
}

export interface PreparedMounts {
  mounts: MountSpec[];
  /** The mount points, absolute in the container. */
  targets: string[];
  /** What the step's process gets in its environment: `env` over what it has (secrets), `defaultEnv` where it has none (SSH_AUTH_SOCK). */
  env: Record<string, string>;
  defaultEnv: Record<string, string>;
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
  const env: Record<string, string> = {};
  const defaultEnv: Record<string, string> = {};
  let sshMounts = 0;
  // A relative target is under the step's working directory; the root is never a mount point.
  const targetOf = (t: string) => {
    const abs = posix.isAbsolute(t) ? t : posix.join(workdir || '/', t);
    if (abs === '/') throw invalidParameter('mount target cannot be the root directory');
    return abs;
  };
  try {
    for (const m of parsed) {
      if (m.type === 'ssh') {
        // BuildKit's default target counts the RUN's ssh mounts; SSH_AUTH_SOCK names the first, mounted or not.
        const target = m.target ? targetOf(m.target) : `/run/buildkit/ssh_agent.${sshMounts}`;
        sshMounts++;
        defaultEnv.SSH_AUTH_SOCK ??= target;
        const absent = deps.ssh ? await deps.ssh.check(m.id) : noSshKey(m.id);
        if (absent !== null) {
          if (m.required) throw invalidParameter(absent);
          continue;
        }
        const agents = deps.ssh!;
        const socket = await listenSsh(m, (conn) => agents.connect(m.id, conn));
        cleanups.push(socket.close);
        mounts.push({ Type: 'bind', Source: socket.path, Target: target, ReadOnly: false });
        continue;
      }
      if (m.type === 'secret') {
        const data = deps.secret ? await deps.secret(m.id) : null;
        if (data === null) {
          if (m.required) throw invalidParameter(`secret ${m.id}: not found`);
          continue;
        }
        if (m.env !== undefined) {
          // A variable of the step's process (never of its image); a file too only when a target is named.
          const value = data.toString('utf8');
          if (value.includes('\0')) throw invalidParameter(`secret ${m.id} cannot be given as environment variable ${m.env}: it holds a NUL byte`);
          env[m.env] = value;
          if (!m.target) continue;
        }
        const dir = await mkdtemp(join(deps.tmpRoot, 'docker-builder-secret'));
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        const file = join(dir, 'secret');
        await writeFile(file, data, { mode: m.mode });
        await chown(file, m.uid, m.gid);
        mounts.push({ Type: 'bind', Source: file, Target: targetOf(m.target), ReadOnly: true });
        continue;
      }
      const target = targetOf(m.target);
      switch (m.type) {
        case 'bind': {
          let source: string;
          if (m.from) {
            const mounted = await deps.mountImage(await deps.imageOf(m.from));
            cleanups.push(mounted.cleanup);
            source = await hostPathIn(mounted.root, m.source, m.from);
          } else {
            source = await hostPathIn(deps.context, m.source, 'the build context');
            if (!m.readonly) {
              const view = await copyOnWriteView(source, deps.tmpRoot);
              cleanups.push(view.cleanup);
              source = view.path;
            }
          }
          mounts.push({ Type: 'bind', Source: source, Target: target, ReadOnly: m.readonly });
          break;
        }
        case 'cache': {
          const cache = await cacheFor(m, target, deps);
          cleanups.push(() => Promise.resolve(cache.release()));
          mounts.push({ Type: 'bind', Source: cache.dir, Target: target, ReadOnly: m.readonly });
          break;
        }
        case 'tmpfs':
          mounts.push({ Type: 'tmpfs', Target: target, ...(m.size ? { TmpfsOptions: { SizeBytes: m.size } } : {}) });
          break;
      }
    }
    if (script) {
      const dir = await mkdtemp(join(deps.tmpRoot, 'docker-builder-pipes'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, script.name), script.content, { mode: 0o755 });
      mounts.push({ Type: 'bind', Source: dir, Target: '/dev/pipes', ReadOnly: true });
    }
    return { mounts, targets: mounts.map((m) => m.Target), env, defaultEnv, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * A cache mount's directory as BuildKit keys and fills it. Without `from=` the cache starts
 * empty (with the mount's mode and owner; a cache given them is another cache than one without),
 * so a `source=` below it does not exist. With `from=` it starts as a copy of that image's
 * `source` directory (its mode and owner too), or of the whole image, or, given a mode or owner
 * and no source, empty again; each image (and source) is a cache of its own.
 */
async function cacheFor(m: Extract<RunMount, { type: 'cache' }>, target: string, deps: RunMountDeps): Promise<{ dir: string; release: () => void }> {
  const perm = { mode: m.mode, uid: m.uid, gid: m.gid };
  const source = posix.join('/', m.source);
  const permKey = m.permSet ? `:${m.mode.toString(8)}:${m.uid}:${m.gid}` : '';
  if (!m.from) {
    if (source !== '/') throw invalidParameter(`lstat ${source}: no such file or directory`);
    return deps.cacheMount(m.id, target, perm, { key: m.id + permKey });
  }
  const imageId = await deps.imageOf(m.from);
  if (source === '/' && m.permSet) return deps.cacheMount(m.id, target, perm, { key: `${m.id}:${imageId}${permKey}` });
  return deps.cacheMount(m.id, target, perm, {
    key: `${m.id}:${imageId}:${source}`,
    fill: async (dir) => {
      const { root, cleanup } = await deps.mountImage(imageId);
      try {
        // A missing source (or one that is not a directory) is BuildKit's failed lstat of it.
        if (!(await copyUp(root.hostPath, source, dir))) throw invalidParameter(`lstat ${source}: no such file or directory`);
      } finally {
        await cleanup();
      }
    },
  });
}

/**
 * A writable view of the host path `source` whose writes never reach it: an overlay with the
 * directory as its only lower layer, or a copy of a file, in a `docker-builder-rw*` directory of
 * `tmpRoot` (a crash's is unmounted and removed at start).
 */
async function copyOnWriteView(source: string, tmpRoot: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpRoot, 'docker-builder-rw'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const st = await stat(source);
    if (!st.isDirectory()) {
      const copy = join(dir, 'file');
      await copyFile(source, copy);
      await chown(copy, st.uid, st.gid);
      await chmod(copy, st.mode & 0o7777);
      return { path: copy, cleanup: remove };
    }
    const merged = join(dir, 'merged');
    for (const sub of ['upper', 'work', 'merged']) await mkdir(join(dir, sub));
    // The view's root takes the upper directory's owner and mode: the source's.
    await chown(join(dir, 'upper'), st.uid, st.gid);
    await chmod(join(dir, 'upper'), st.mode & 0o7777);
    // The source's path comes from the client's context: it is the mount's working directory, never
    // a word of the option string; the daemon's own paths have the option separators escaped.
    const escape = (p: string) => p.replace(/[\\,:]/g, (c) => `\\${c}`);
    await mountFilesystem('overlay', 'overlay', merged, ['lowerdir=.', `upperdir=${escape(join(dir, 'upper'))}`, `workdir=${escape(join(dir, 'work'))}`], { cwd: source });
    return {
      path: merged,
      cleanup: async () => {
        await unmountFilesystem(merged).catch(() => unmountFilesystem(merged, { lazy: true }));
        await remove();
      },
    };
  } catch (err) {
    await remove().catch(() => {});
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
