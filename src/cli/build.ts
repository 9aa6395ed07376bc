/**
 * `wharf build`: Docker's flags, the context from a directory (walked with .dockerignore applied
 * before anything is sent; the Dockerfile and .dockerignore always go, as the Docker CLI sends
 * them), a tarball, or stdin (`-`: a tar or a Dockerfile alone), streamed to POST /build as a tar;
 * the output is the builder's stream, and a failing RUN's exit code is the CLI's.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { readDockerignore } from '../build/dockerignore.js';
import { PatternMatcher } from '../lib/pattern-matcher.js';
import { cloneGitContext, isGitUrl } from '../build/git-context.js';
import { TarWriter } from '../lib/tar-writer.js';
import { StatusError, collect, usage, type CliContext, type DefineCommand } from './cli-context.js';
import { bytesFlag, intFlag, memorySwapFlag, parseUlimit } from './run-options.js';

interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  iidfile?: string;
  label?: string[];
  network?: string;
  addHost?: string[];
  platform?: string;
  cacheFrom?: string[];
  rm?: boolean;
  forceRm?: boolean;
  cgroupParent?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memorySwap?: string;
  shmSize?: string;
  ulimit?: string[];
  isolation?: string;
  securityOpt?: string[];
}

/** The legacy builder's resource flags, as the Docker CLI parses and sends them (client/image_build.go). */
function resourceQuery(o: BuildFlags): Record<string, string | string[] | undefined> {
  const flags = o as Record<string, unknown>;
  const num = (n: number | undefined) => (n ? String(n) : undefined);
  const ulimits = (o.ulimit ?? []).map(parseUlimit);
  return {
    cpusetcpus: o.cpusetCpus || undefined,
    cpusetmems: o.cpusetMems || undefined,
    cpushares: num(intFlag(flags, 'cpuShares', '-c, --cpu-shares')),
    cpuquota: num(intFlag(flags, 'cpuQuota', '--cpu-quota')),
    cpuperiod: num(intFlag(flags, 'cpuPeriod', '--cpu-period')),
    memory: num(bytesFlag(flags, 'memory', '-m, --memory')),
    memswap: num(memorySwapFlag(flags)),
    shmsize: num(bytesFlag(flags, 'shmSize', '--shm-size')),
    cgroupparent: o.cgroupParent || undefined,
    ulimits: ulimits.length ? JSON.stringify(ulimits) : undefined,
    isolation: o.isolation || undefined,
    securityopt: o.securityOpt?.length ? o.securityOpt : undefined,
  };
}

/** `--build-arg K=V`, or `K` taking the value from the environment (null when unset). */
export function buildArgsFromFlags(values: string[] | undefined, env: NodeJS.ProcessEnv): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i >= 0) out[v.slice(0, i)] = v.slice(i + 1);
    else out[v] = env[v] ?? null;
  }
  return out;
}

async function* walk(root: string, rel: string, matcher: PatternMatcher): AsyncGenerator<string> {
  const names = (await readdir(join(root, rel))).sort();
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const st = await lstat(join(root, r));
    const ignored = !matcher.empty && matcher.matches(r);
    if (st.isDirectory()) {
      if (ignored && matcher.canSkipDir(r)) continue;
      if (!ignored) yield r;
      yield* walk(root, r, matcher);
      continue;
    }
    if (!ignored) yield r;
  }
}

/** A tar of `dir` with .dockerignore applied; owners 0:0 as the Docker CLI sends them. */
export async function contextTar(dir: string, dockerfileRel: string, extra?: { name: string; data: Buffer }): Promise<Readable> {
  const ignoreText = await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const patterns = readDockerignore(ignoreText);
  if (patterns.length) patterns.push(`!${dockerfileRel}`, '!.dockerignore');
  const matcher = new PatternMatcher(patterns);
  const out = new TarWriter();
  void (async () => {
    try {
      for await (const rel of walk(dir, '', matcher)) {
        const p = join(dir, rel);
        const st = await lstat(p);
        const base = { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: Math.floor(st.mtimeMs / 1000) };
        if (st.isDirectory()) await out.add({ ...base, name: `${rel}/`, type: 'directory' });
        else if (st.isSymbolicLink()) await out.add({ ...base, name: rel, type: 'symlink', linkname: await readlink(p) });
        else if (st.isFile()) await out.add({ ...base, name: rel, type: 'file', size: st.size }, createReadStream(p));
      }
      if (extra) await out.add({ name: extra.name, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000), size: extra.data.length }, extra.data);
      out.finish();
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return out;
}

/**
 * A git URL is cloned here and built as a local directory, as the Docker CLI does (with the
 * user's git, not the daemon's); `-f` is then relative to the checkout.
 */
async function buildAction(ctx: CliContext, pathArg: string, o: BuildFlags): Promise<void> {
  if (pathArg === '-' || !isGitUrl(pathArg) || (await stat(pathArg).then((s) => s.isDirectory(), () => false))) return buildContext(ctx, pathArg, o);
  let checkout: { dir: string; context: string };
  try {
    checkout = await cloneGitContext(pathArg, tmpdir());
  } catch (err) {
    throw new StatusError(1, `unable to prepare context: ${(err as Error).message}`);
  }
  try {
    const file = o.file && o.file !== '-' && !isAbsolute(o.file) ? join(checkout.context, o.file) : o.file;
    await buildContext(ctx, checkout.context, { ...o, ...(file !== undefined ? { file } : {}) });
  } finally {
    await rm(checkout.dir, { recursive: true, force: true });
  }
}

async function buildContext(ctx: CliContext, pathArg: string, o: BuildFlags): Promise<void> {
  const query: Record<string, string | string[] | boolean | undefined> = {
    t: o.tag ?? [],
    target: o.target || undefined,
    nocache: o.cache === false || undefined,
    pull: o.pull || undefined,
    q: o.quiet || undefined,
    rm: o.rm === false ? false : true,
    forcerm: o.forceRm || undefined,
    networkmode: o.network || undefined,
    platform: o.platform || undefined,
    ...resourceQuery(o),
  };
  const args = buildArgsFromFlags(o.buildArg, process.env);
  if (Object.keys(args).length) query.buildargs = JSON.stringify(args);
  if (o.label?.length) {
    const labels: Record<string, string> = {};
    for (const l of o.label) {
      const i = l.indexOf('=');
      labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
    }
    query.labels = JSON.stringify(labels);
  }
  if (o.addHost?.length) query.extrahosts = o.addHost.join(',');
  if (o.cacheFrom?.length) query.cachefrom = JSON.stringify(o.cacheFrom);

  let body: Readable;
  if (pathArg === '-') {
    if (o.file && o.file !== '-') query.dockerfile = o.file;
    body = process.stdin;
  } else if (/^https?:\/\//i.test(pathArg)) {
    // The daemon fetches the context (a tar or a Dockerfile), as Docker's does.
    query.remote = pathArg;
    if (o.file) query.dockerfile = o.file;
    body = Readable.from([]);
  } else {
    const st = await stat(pathArg).catch(() => null);
    if (!st) throw new StatusError(1, `unable to prepare context: path "${pathArg}" not found`);
    if (st.isFile()) {
      if (o.file) query.dockerfile = o.file;
      body = createReadStream(pathArg);
    } else {
      const dir = resolve(pathArg);
      let extra: { name: string; data: Buffer } | undefined;
      let dockerfileRel = 'Dockerfile';
      if (o.file === '-') {
        dockerfileRel = `.dockerfile.${randomBytes(10).toString('hex')}`;
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        extra = { name: dockerfileRel, data: Buffer.concat(chunks) };
      } else if (o.file) {
        const abs = isAbsolute(o.file) ? o.file : resolve(o.file);
        const rel = relative(dir, abs);
        if (rel.startsWith('..') || isAbsolute(rel)) {
          // Outside the context: sent under a private name, as the Docker CLI does.
          dockerfileRel = `.dockerfile.${randomBytes(10).toString('hex')}`;
          const data = await readFile(abs).catch(() => {
            throw new StatusError(1, `unable to prepare context: the Dockerfile (${o.file}) cannot be found`);
          });
          extra = { name: dockerfileRel, data };
        } else dockerfileRel = rel.split(sep).join('/');
      } else {
        const found = await stat(join(dir, 'Dockerfile')).catch(() => stat(join(dir, 'dockerfile')).catch(() => null));
        if (!found) throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${join(dir, 'Dockerfile')}: no such file or directory`);
      }
      query.dockerfile = dockerfileRel;
      body = await contextTar(dir, dockerfileRel, extra);
    }
  }

  const stream = await ctx.client().jsonStream('POST', '/build', { query, stream: body, headers: { 'Content-Type': 'application/x-tar' } });
  let imageId = '';
  for await (const m of stream) {
    if (m.error || m.errorDetail) {
      const detail = m.errorDetail as { message?: string; code?: number } | undefined;
      throw new StatusError(detail?.code || 1, detail?.message ?? m.error ?? 'unknown error');
    }
    if (m.aux !== undefined) {
      const id = (m.aux as { ID?: string }).ID;
      if (id) imageId = id;
      continue;
    }
    if (o.quiet) continue;
    if (m.stream !== undefined) ctx.out.write(m.stream);
    else if (m.status !== undefined) ctx.out.write(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
  }
  if (o.quiet) ctx.out.write(`${imageId}\n`);
  if (o.iidfile) await writeFile(o.iidfile, imageId);
}

/** `build` and `image build` (commands.ts). */
export const defineBuild: DefineCommand = (parent, ctx, name) => {
    const cmd = new Command(name);
    parent.addCommand(cmd);
    usage(cmd, `${name} [OPTIONS] PATH | URL | -`)
      .description('Build an image from a Dockerfile')
      .argument('<path>')
      .option('-t, --tag <name>', 'Name and optionally a tag in the "name:tag" format', collect)
      .option('-f, --file <string>', "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
      .option('--build-arg <list>', 'Set build-time variables', collect)
      .option('--target <string>', 'Set the target build stage to build.')
      .option('--no-cache', 'Do not use cache when building the image')
      .option('--pull', 'Always attempt to pull a newer version of the image')
      .option('-q, --quiet', 'Suppress the build output and print image ID on success')
      .option('--iidfile <string>', 'Write the image ID to the file')
      .option('--label <list>', 'Set metadata for an image', collect)
      .option('--network <string>', 'Set the networking mode for the RUN instructions during build', 'default')
      .option('--add-host <list>', 'Add a custom host-to-IP mapping ("host:ip")', collect)
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .option('--cache-from <strings>', 'Images to consider as cache sources', collect)
      .option('--rm', 'Remove intermediate containers after a successful build (default true)')
      .option('--no-rm', 'Keep intermediate containers after a successful build')
      .option('--force-rm', 'Always remove intermediate containers')
      .option('--cgroup-parent <string>', 'Set the parent cgroup for the "RUN" instructions during build')
      .option('--cpu-period <int>', 'Limit the CPU CFS (Completely Fair Scheduler) period')
      .option('--cpu-quota <int>', 'Limit the CPU CFS (Completely Fair Scheduler) quota')
      .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
      .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
      .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
      .option('-m, --memory <bytes>', 'Memory limit')
      .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
      .option('--shm-size <bytes>', 'Size of "/dev/shm"')
      .option('--ulimit <ulimit>', 'Ulimit options', collect)
      .option('--isolation <string>', 'Container isolation technology')
      .option('--security-opt <strings>', 'Security options', collect)
      .action((path: string, o: BuildFlags) => buildAction(ctx, path, o));
    return cmd;
};
