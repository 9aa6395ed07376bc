/**
 * `wharf cp`, `diff`, `export`, `commit`, `pause`, `unpause`, `update` (top level and under
 * `container`), with the Docker CLI's flags, output and errors. cp follows docker cp's rules:
 * `-` is a tar on stdin/stdout; a source directory ending in `/.` copies its contents; a
 * destination that exists as a directory receives the source inside it, otherwise the source
 * takes the destination's name; a trailing `/` on a destination asks for a directory.
 */
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import type { EngineClient } from '../client/engine-client.js';
import { ContainerExtractor } from '../containerfs/extract.js';
import { ContainerRoot } from '../containerfs/root.js';
import { directFs } from '../containerfs/fs-calls.js';
import { gathered, walkTar } from '../containerfs/walk.js';
import { collect, forEachArg, usage, type CliContext, type DefineCommand } from './cli-context.js';
import { ramInBytes } from './format/units.js';
import { parseCpus, parseRestartPolicy } from './run-options.js';

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

const isDirMode = (mode: number): boolean => Math.floor(mode / 2 ** 31) % 2 === 1;
const isLinkMode = (mode: number): boolean => Math.floor(mode / 2 ** 27) % 2 === 1;

async function statPath(client: EngineClient, container: string, path: string): Promise<PathStat | null> {
  try {
    const res = await client.request('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path } });
    res.resume();
    return JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat'] ?? ''), 'base64').toString()) as PathStat;
  } catch {
    return null;
  }
}

/** `container:path` or a local path (Docker: a colon before any slash names a container). */
function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** Renames the leading `from` component of an entry name to `to` (archive.RebaseArchiveEntries). */
function rebaseName(from: string, to: string): (name: string) => string {
  return (name) => (name === from || name === `${from}/` || name.startsWith(`${from}/`) ? to + name.slice(from.length) : name);
}

/**
 * Extracts a tar from the daemon into a local directory with the extractor the daemon uses for
 * PUT /archive (containerfs/extract.ts), the directory standing for the root: entries never
 * climb out of it or through a symlink out of it, symlink entries pointing out of it are
 * refused, files stream to disk. As the Docker CLI (NoLchown), the files belong to the user
 * running the CLI; modes and times are the archive's.
 */
async function untarLocal(src: Readable, dest: string, rename?: (name: string) => string): Promise<void> {
  // Direct file calls: a CLI has no event loop to keep free, and each call is a tenth of the cost.
  const root = await ContainerRoot.open(dest, { fs: directFs });
  try {
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    await new ContainerExtractor(root, '/', { noOverwriteDirNonDir: true, chown: owner, ...(rename ? { rename } : {}) }).extract(src);
  } finally {
    await root.close();
  }
}

async function copyFromContainer(ctx: CliContext, container: string, srcPath: string, dst: string, followLink: boolean): Promise<void> {
  const client = ctx.client();
  let path = srcPath;
  let linkName = '';
  if (followLink) {
    const st = await statPath(client, container, srcPath);
    if (st && isLinkMode(st.mode)) {
      path = st.linkTarget;
      linkName = basename(srcPath.replace(/\/+$/, '')) || '/';
    }
  }
  const res = await client.request('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path } });
  const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat'] ?? ''), 'base64').toString()) as PathStat;
  if (dst === '-') {
    await pipeline(res, ctx.out as unknown as NodeJS.WritableStream);
    return;
  }
  const srcBase = path.endsWith('/.') ? '.' : basename(path.replace(/\/+$/, '')) || '/';
  const followed = linkName ? rebaseName(srcBase, linkName) : undefined;
  const effectiveBase = linkName || srcBase;
  const dstPath = resolve(dst);
  const dstExists = existsSync(dstPath);
  const srcIsDir = isDirMode(stat.mode);
  if (dstExists && statSync(dstPath).isDirectory()) return untarLocal(res, dstPath, followed);
  if (dstExists && srcIsDir) throw new Error('cannot copy a directory to a file');
  if (!dstExists && dst.endsWith('/')) throw new Error(`no such directory`);
  if (!existsSync(dirname(dstPath))) throw new Error(`no such file or directory`);
  // The source takes the destination's name.
  const toDst = rebaseName(effectiveBase, basename(dstPath));
  await untarLocal(res, dirname(dstPath), followed ? (name) => toDst(followed(name)) : toDst);
}

async function copyToContainer(ctx: CliContext, src: string, container: string, dstPath: string, followLink: boolean, copyUIDGID: boolean): Promise<void> {
  const client = ctx.client();
  let dstInfo = await statPath(client, container, dstPath);
  let dst = dstPath;
  if (dstInfo && isLinkMode(dstInfo.mode)) {
    dst = dstInfo.linkTarget;
    dstInfo = await statPath(client, container, dst);
  }
  const put = async (dir: string, content: Readable) => {
    const res = await client.request('PUT', `/containers/${encodeURIComponent(container)}/archive`, {
      query: { path: dir, noOverwriteDirNonDir: true, copyUIDGID: copyUIDGID || undefined },
      stream: content,
    });
    res.resume();
  };
  if (src === '-') {
    if (!dstInfo || !isDirMode(dstInfo.mode)) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
    await put(dst, process.stdin);
    return;
  }
  let local = resolve(src);
  const st = await lstat(local);
  if (followLink && st.isSymbolicLink()) local = await realpath(local);
  const srcIsDir = (await lstat(local)).isDirectory();
  const contentsOnly = src.endsWith('/.');
  const dstIsDir = !!dstInfo && isDirMode(dstInfo.mode);
  let targetDir: string;
  let name: string;
  if (dstIsDir) {
    targetDir = dst;
    name = contentsOnly ? '.' : basename(local);
  } else if (dstInfo && srcIsDir) {
    throw new Error('cannot copy a directory to a file');
  } else {
    if (!dstInfo && dst.endsWith('/') && !srcIsDir) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
    targetDir = dirname(dst.replace(/\/+$/, '')) || '/';
    name = basename(dst.replace(/\/+$/, ''));
  }
  // Synchronous file calls, pulled as the upload takes the tar: a CLI has no event loop to keep free.
  await put(targetDir, Readable.from(gathered(walkTar({ at: local, name }), 64 << 10)));
}

const CHANGE_KIND = ['C', 'A', 'D'];

export function defineCp(parent: Command, ctx: CliContext): Command {
  const cp = new Command('cp');
  parent.addCommand(cp);
  usage(cp, 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-')
    .description('Copy files/folders between a container and the local filesystem')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'Suppress progress output during copy')
    .argument('<src>')
    .argument('<dst>')
    .action(async (srcArg: string, dstArg: string, o: { archive?: boolean; followLink?: boolean }) => {
      const src = splitCpArg(srcArg);
      const dst = splitCpArg(dstArg);
      if (src.container && dst.container) throw new Error('copying between containers is not supported');
      if (!src.container && !dst.container) throw new Error('must specify at least one container source');
      if (src.container) await copyFromContainer(ctx, src.container, src.path, dst.path, !!o.followLink);
      else await copyToContainer(ctx, src.path, dst.container!, dst.path, !!o.followLink, !!o.archive);
    });
  return cp;
}

export function defineDiff(parent: Command, ctx: CliContext): Command {
  const diff = new Command('diff');
  parent.addCommand(diff);
  usage(diff, 'diff CONTAINER')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>')
    .action(async (container: string) => {
      const changes = await ctx.client().json<Array<{ Path: string; Kind: number }> | null>('GET', `/containers/${encodeURIComponent(container)}/changes`);
      for (const c of changes ?? []) ctx.out.write(`${CHANGE_KIND[c.Kind] ?? '?'} ${c.Path}\n`);
    });
  return diff;
}

export function defineExport(parent: Command, ctx: CliContext): Command {
  const exp = new Command('export');
  parent.addCommand(exp);
  usage(exp, 'export [OPTIONS] CONTAINER')
    .description("Export a container's filesystem as a tar archive")
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .argument('<container>')
    .action(async (container: string, o: { output?: string }) => {
      if (!o.output && ctx.out.isTTY) throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const res = await ctx.client().request('GET', `/containers/${encodeURIComponent(container)}/export`);
      await pipeline(res, o.output ? createWriteStream(o.output) : (ctx.out as unknown as NodeJS.WritableStream));
    });
  return exp;
}

export function defineCommit(parent: Command, ctx: CliContext): Command {
  const commit = new Command('commit');
  parent.addCommand(commit);
  usage(commit, 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .description("Create a new image from a container's changes")
    .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Commit message')
    .option('-p, --pause [bool]', 'Pause container during commit', true)
    .argument('<container>')
    .argument('[reference]')
    .action(async (container: string, reference: string | undefined, o: { author?: string; change?: string[]; message?: string; pause?: boolean | string }) => {
      // `-p CONTAINER`: commander took the container as the flag's optional value (pflag would not).
      if (typeof o.pause === 'string' && !/^(true|false|0|1)$/.test(o.pause)) {
        reference = container;
        container = o.pause;
        o.pause = true;
      }
      let repo: string | undefined;
      let tag: string | undefined;
      if (reference) {
        const at = reference.lastIndexOf(':');
        if (at > reference.lastIndexOf('/')) {
          repo = reference.slice(0, at);
          tag = reference.slice(at + 1);
        } else repo = reference;
      }
      const pause = !(o.pause === false || o.pause === 'false' || o.pause === '0');
      const r = await ctx.client().json<{ Id: string }>('POST', '/commit', {
        query: { container, repo, tag, comment: o.message, author: o.author, pause, changes: o.change },
        body: {},
      });
      ctx.out.write(`${r.Id}\n`);
    });
  return commit;
}

function definePauseLike(parent: Command, ctx: CliContext, action: 'pause' | 'unpause'): Command {
  const cmd = new Command(action);
  parent.addCommand(cmd);
  usage(cmd, `${action} CONTAINER [CONTAINER...]`)
    .description(action === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers')
    .argument('<containers...>')
    .action(async (containers: string[]) => {
      await forEachArg(ctx, containers, async (c) => {
        const res = await ctx.client().request('POST', `/containers/${encodeURIComponent(c)}/${action}`);
        res.resume();
        ctx.out.write(`${c}\n`);
      });
    });
  return cmd;
}

export const definePause: DefineCommand = (parent, ctx) => definePauseLike(parent, ctx, 'pause');
export const defineUnpause: DefineCommand = (parent, ctx) => definePauseLike(parent, ctx, 'unpause');

export function defineUpdate(parent: Command, ctx: CliContext): Command {
  const update = new Command('update');
  parent.addCommand(update);
  usage(update, 'update [OPTIONS] CONTAINER [CONTAINER...]')
    .description('Update configuration of one or more containers')
    .option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable')
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period')
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota')
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--memory-swap <bytes>', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--restart <string>', 'Restart policy to apply when a container exits')
    .argument('<containers...>')
    .action(async (containers: string[], o: Record<string, string | undefined>) => {
      const body: Record<string, unknown> = {};
      const int = (v: string | undefined) => (v === undefined ? undefined : Number.parseInt(v, 10));
      const bytes = (v: string | undefined) => (v === undefined ? undefined : v === '-1' ? -1 : ramInBytes(v));
      if (o.blkioWeight) body.BlkioWeight = int(o.blkioWeight);
      if (o.cpuPeriod) body.CpuPeriod = int(o.cpuPeriod);
      if (o.cpuQuota) body.CpuQuota = int(o.cpuQuota);
      if (o.cpus) body.NanoCpus = parseCpus(o.cpus);
      if (o.cpusetCpus) body.CpusetCpus = o.cpusetCpus;
      if (o.cpusetMems) body.CpusetMems = o.cpusetMems;
      if (o.cpuShares) body.CpuShares = int(o.cpuShares);
      if (o.memory) body.Memory = bytes(o.memory);
      if (o.memoryReservation) body.MemoryReservation = bytes(o.memoryReservation);
      if (o.memorySwap) body.MemorySwap = bytes(o.memorySwap);
      if (o.pidsLimit !== undefined) body.PidsLimit = int(o.pidsLimit);
      if (o.restart) body.RestartPolicy = parseRestartPolicy(o.restart);
      if (Object.keys(body).length === 0) throw new Error('you must provide one or more flags when using this command');
      await forEachArg(ctx, containers, async (c) => {
        const r = await ctx.client().json<{ Warnings?: string[] | null }>('POST', `/containers/${encodeURIComponent(c)}/update`, { body });
        for (const w of r?.Warnings ?? []) ctx.err.write(`${w}\n`);
        ctx.out.write(`${c}\n`);
      });
    });
  return update;
}
