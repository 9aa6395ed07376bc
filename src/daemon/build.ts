/**
 * Docker's classic builder (moby's builder/dockerfile): the Dockerfile's stages run one
 * instruction at a time, each committing an image in the image store whose parent is the
 * previous step's image, so that the next build finds it again (the cache: a child of the same
 * parent whose container_config — the step's command and config — is the same).
 *  - metadata instructions (ENV, CMD, LABEL…) commit an image with an empty layer, through a
 *    container created but never started, as Docker does (" ---> Running in …");
 *  - RUN creates a container on this engine (the container service: create, attach, start,
 *    wait), commits its upper dir as a layer, and removes it (`rm`, `forcerm` as Docker);
 *  - COPY/ADD write into a fresh RW layer (not a container) through the container extractor,
 *    WORKDIR into its step container's, and commit the upper dir.
 * The output is Docker's text (`Step 1/5 : …`, ` ---> Running in …`, ` ---> Using cache`…).
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { isDeepStrictEqual } from 'node:util';
import type { ContainerBackend } from '../api/backend.js';
import type { BuildCacheRecord, ContainerConfig, HostConfig, ImageConfigFile, ProgressMessage } from '../api/types.js';
import { BuildArgs, prependEnvOnCmd } from '../build/build-args.js';
import { runSliced } from '../lib/run-sliced.js';
import { parseInstruction, requiresBuildkit, stageIndex, stagesOf, type Instruction, type Stage } from '../build/instructions.js';
import { sourceName, stageStepNames, withVariables, type StageStepNames } from '../build/buildkit-names.js';
import { UnsupportedNamedContext, type NamedContextMatch, type NamedContextSource } from '../build/named-contexts.js';
import { DockerfileParseError, goQuote, parseLine } from '../build/parser.js';
import { envMap, expandHeredoc, processWord, processWords } from '../build/shell-lex.js';
import { hasIndependentStages, stageDependencies } from '../build/stage-graph.js';
import { familiarString, parseNormalizedNamed, withDefaultTag, type Reference } from '../image/reference.js';
import type { AppliedLayer } from '../layer/layer-store.js';
import { generateId, shortId } from '../lib/ids.js';
import { rfc3339NanoNow } from '../lib/wall-clock.js';
import { EngineError, invalidParameter, isEngineError, systemError } from '../lib/errors.js';
import {
  checkedOutCommit,
  cloneGitContext,
  cloneGitRepo,
  GitContextError,
  isGitUrl,
  parseBuildkitGitRef,
  parseGitUrl,
  resolveRemoteCommit,
  type BuildkitGitRef,
  type GitRemote,
} from '../build/git-context.js';
import { parseSignal } from '../lib/signals.js';
import { readMountInfo } from '../lib/mountinfo.js';
import { unmountFilesystem } from '../lib/mounts.js';
import { resolveUser } from '../runtime/user.js';
import { BuildContext } from './build-context.js';
import type { CacheMountStore } from './build-cache-mounts.js';
import { noSshKey, parseRunMount, type RunMount } from '../build/run-mounts.js';
import { listenSsh } from './ssh-agent-socket.js';
import { missingMountPoints, prepareRunMounts, removeMountPoints, type PreparedMounts } from './build-run-mounts.js';
import {
  copySources,
  gitSourceHash,
  parseChmod,
  resolveSelected,
  resolveSources,
  sourcesHash,
  type CopySource,
  type SourceOrigin,
  type SourceSelection,
} from './build-copy.js';
import { SourceHashCache } from './build-source-cache.js';
import { StageOrder } from './build-stage-order.js';
import { downloadSources, fetchContext, isRemoteURL } from './build-download.js';
import { EMPTY_TAR_DIFF_ID, upperDirLayer } from './containers/commit.js';
import { authForDomain } from '../distribution/auth-config.js';
import { cacheKey, copyConfig, goList, goQuoteList } from './build-config.js';
import { formatGoDuration } from '../lib/go-duration.js';
import { Channel } from './build-channel.js';
import { ContainerRoot } from '../containerfs/root.js';
import type { EventSink } from './events.js';
import { hostArch, hostPlatform } from './images/platform.js';
import { parsePlatform } from '../distribution/manifest.js';
import { platformArgs } from '../build/platform-args.js';
import { envKey, setEnv } from '../lib/env-list.js';
import type { ImageService } from './images/service.js';
import type { BuildBackend, BuildOptions, BuildStepError } from '../api/backend.js';

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Characters of output kept for a failing quiet (-q) build. */
const QUIET_KEEP = 1 << 20;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * cacheKey of a stored image's container_config, computed once: the image store hands out the
 * same config object while the image exists, and every build on a base compares each of the
 * base's children (their number grows with every build on it).
 */
const storedKeys = new WeakMap<ContainerConfig, string>();
function storedCacheKey(cc: ContainerConfig): string {
  let k = storedKeys.get(cc);
  if (k === undefined) storedKeys.set(cc, (k = cacheKey(cc)));
  return k;
}

export interface BuildServiceDeps {
  images: ImageService;
  containers: ContainerBackend;
  events: EventSink;
  tmpRoot: string;
  /** The directories of `RUN --mount=type=cache`, kept between builds. */
  cacheMounts: CacheMountStore;
  log(msg: string): void;
}

/** Where a stage's output goes: text, each step's line (with its BuildKit name), and the rest of a line at its end. */
interface StageOutput {
  /** The stage's output (prefixed with its name when BuildKit's stages run side by side). */
  out: (text: string) => void;
  step: (text: string, vertex: string | null) => void;
  flush: () => void;
  /** Waits while the stage's output cannot be taken (the client is behind, or the stage's is held back). */
  room: () => Promise<void>;
  /** Sends a message of the stage's in its place among the stage's output. */
  emit: (m: ProgressMessage) => void;
}

/** What a stage's steps write to. */
type StageSink = Pick<StageOutput, 'out' | 'room' | 'emit'>;

/** Where a stage's instructions stand, and what its steps write to. */
interface StageState extends StageSink {
  imageId: string;
  image: ImageConfigFile;
  config: ContainerConfig;
  maintainer: string;
  cmdSet: boolean;
  args: BuildArgs;
  name: string;
  /** Index of the stage in the Dockerfile. */
  index: number;
  /** After the first cache miss the stage's later steps are not looked up (moby's imageProber). */
  cacheBusted: boolean;
  /** Containers of this stage's current step, removed after it (rm/forcerm). */
  containers: Set<string>;
  /** Set while the stage makes a step that other stages may wait for (see probeCache). */
  finishStep?: () => void;
  /** How many of the image's history entries come from outside this build (its external base's). */
  inherited: number;
}

class StepError extends Error implements BuildStepError {
  constructor(
    message: string,
    readonly code?: number,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Marker files naming the temporary RW layers a build holds, so a crashed daemon's are removed at start. */
export class BuildLayerMarks {
  constructor(private readonly dir: string) {}
  async add(id: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(join(this.dir, id), '');
  }
  async remove(id: string): Promise<void> {
    await rm(join(this.dir, id), { force: true });
  }
  async list(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }
}

export class BuildService implements BuildBackend {
  private readonly marks: BuildLayerMarks;
  private readonly sourceHashes = new SourceHashCache();

  constructor(private readonly deps: BuildServiceDeps) {
    this.marks = new BuildLayerMarks(join(deps.tmpRoot, 'build-layers'));
  }

  /** Removes what builds cut short by a crash left: temporary RW layers and context directories. */
  async init(): Promise<void> {
    for (const id of await this.marks.list()) {
      await this.deps.images.layers.removeRWLayer(id).catch((err) => this.deps.log(`build: leftover layer ${id}: ${err}`));
      await this.marks.remove(id);
    }
    // A RUN's copy-on-write view of the context may still be mounted there: unmounted first, deepest first.
    const prefix = join(this.deps.tmpRoot, 'docker-builder');
    const views = (await readMountInfo()).map((m) => m.mountPoint).filter((p) => p.startsWith(prefix));
    for (const p of views.sort((a, b) => b.length - a.length)) await unmountFilesystem(p, { lazy: true }).catch((err) => this.deps.log(`build: leftover mount ${p}: ${err}`));
    for (const name of await readdir(this.deps.tmpRoot).catch(() => [] as string[])) {
      if (name.startsWith('docker-builder')) await rm(join(this.deps.tmpRoot, name), { recursive: true, force: true });
    }
  }

  cacheRecords(): Promise<BuildCacheRecord[]> {
    return this.deps.cacheMounts.records();
  }

  /** An image's rootfs mounted read-only (a temporary RW layer), for BuildKit's local and tar exporters. */
  openImageRoot(imageId: string): Promise<{ root: ContainerRoot; cleanup: () => Promise<void> }> {
    return mountImageRoot(this.deps, this.marks, imageId);
  }

  pruneCache(opts: { filters: Record<string, string[]>; keepBytes?: number }): Promise<{ deleted: BuildCacheRecord[]; reclaimed: number }> {
    return this.deps.cacheMounts.prune(opts);
  }

  build(context: Readable, opts: BuildOptions, signal: AbortSignal): AsyncIterable<ProgressMessage> {
    const ch = new Channel();
    const tags = opts.tags.map((t) => {
      try {
        const ref = parseNormalizedNamed(t);
        if (ref.digest !== undefined) throw new Error('invalid reference format');
        return withDefaultTag(ref);
      } catch {
        throw invalidParameter(`invalid tag ${JSON.stringify(t)}: invalid reference format`);
      }
    });
    const run = new BuildRun(this.deps, this.marks, this.sourceHashes, opts, tags, signal, (m) => ch.push(m), () => ch.room());
    run
      .run(context)
      .then(() => ch.end(), (err) => ch.end(err));
    return ch;
  }
}

/** ENV's and LABEL's pairs with their words expanded, pausing between pairs: one instruction may hold a million. */
function* expandedPairs(kvs: ReadonlyArray<{ key: string; value: string }>, x: (w: string) => string): Generator<void, Array<readonly [string, string]>> {
  const out: Array<readonly [string, string]> = [];
  for (const kv of kvs) {
    out.push([x(kv.key), x(kv.value)]);
    yield;
  }
  return out;
}

/** ADD --checksum of a git source: a prefix of the commit, checked on the resolved commit and on the fetched one. */
function checkGitChecksum(commit: string, checksum: string | undefined): void {
  if (checksum !== undefined && !commit.startsWith(checksum.toLowerCase())) throw invalidParameter(`expected checksum to match ${checksum}, got ${commit}`);
}

class BuildRun {
  private readonly args: BuildArgs;
  private children: Map<string, string[]> | null = null;
  /** Steps being made right now, by parent image and cache key: a stage doing the same one waits. */
  private readonly making = new Map<string, Promise<void>>();
  /** Containers this build made and has not removed yet. */
  private readonly tmpContainers = new Set<string>();
  /** Finished stages, by index (stages may finish out of order). */
  private readonly stageResults: Array<{ name: string; imageId: string; config: ContainerConfig; inherited: number } | undefined> = [];
  /** Aborted by the client going away, or by a failing stage stopping the others. */
  private readonly signal: AbortSignal;
  private readonly stopStages = new AbortController();
  private ctx: BuildContext | null = null;
  /** The images named contexts stand for, by key: each found (or made of a client's directory) once per build. */
  private readonly contextImages = new Map<string, Promise<string>>();
  private readonly quietBuffer: string[] = [];
  private quietBytes = 0;

  constructor(
    private readonly deps: BuildServiceDeps,
    private readonly marks: BuildLayerMarks,
    private readonly sourceHashes: SourceHashCache,
    private readonly opts: BuildOptions,
    private readonly tags: Reference[],
    private readonly clientSignal: AbortSignal,
    private readonly emit: (m: ProgressMessage) => void,
    /** Waits while the client has not read what was sent (backpressure on RUN output). */
    private readonly room: () => Promise<void>,
  ) {
    this.args = new BuildArgs(opts.buildArgs);
    this.signal = AbortSignal.any([clientSignal, this.stopStages.signal]);
  }

  private out(text: string): void {
    if (!this.opts.quiet) {
      this.emit({ stream: text });
      return;
    }
    // -q shows the output only when the build fails; its tail is enough and memory stays bounded.
    this.quietBuffer.push(text);
    this.quietBytes += text.length;
    while (this.quietBytes > QUIET_KEEP && this.quietBuffer.length > 1) this.quietBytes -= this.quietBuffer.shift()!.length;
  }

  /** The request body, or what `remote` names: a git repository or an http(s) tar/Dockerfile (moby's detect.go). */
  private async openContext(body: Readable): Promise<BuildContext> {
    const remote = this.opts.remote;
    if (this.opts.dockerfileText !== undefined) return BuildContext.fromSentContext(body, this.deps.tmpRoot, this.opts.dockerfileText);
    if (!remote) return BuildContext.fromBody(body, this.deps.tmpRoot, this.opts.dockerfile);
    body.resume();
    if (isGitUrl(remote)) {
      let checkout: { dir: string; context: string };
      try {
        checkout = await cloneGitContext(remote, this.deps.tmpRoot, this.signal);
      } catch (err) {
        throw err instanceof GitContextError ? systemError(err.message) : err;
      }
      return BuildContext.fromCheckout(checkout.dir, checkout.context, this.opts.dockerfile);
    }
    if (!/^https?:\/\//i.test(remote)) throw systemError(`remoteURL (${remote}) could not be recognized as URL`);
    return BuildContext.fromBody(await fetchContext(remote, this.signal), this.deps.tmpRoot, this.opts.dockerfile);
  }

  private checkCancelled(): void {
    if (this.signal.aborted) throw new StepError('Build cancelled');
  }

  async run(body: Readable): Promise<void> {
    try {
      this.ctx = await this.openContext(body);
      const id = await this.buildAll();
      this.out(`Successfully built ${shortId(id)}\n`);
      for (const t of this.tags) {
        await this.deps.images.tag(id, familiarString(t));
        this.out(`Successfully tagged ${familiarString(t)}\n`);
      }
      if (this.opts.quiet) this.emit({ stream: `${id}\n` });
    } catch (err) {
      if (this.opts.quiet && this.quietBuffer.length) this.emit({ stream: this.quietBuffer.join('') });
      throw err;
    } finally {
      // A failed step's container stays unless forcerm (Docker's behaviour); a cancelled build leaves nothing.
      await this.removeContainers(this.tmpContainers, this.clientSignal.aborted || this.opts.forceRm, null);
      await this.ctx?.close().catch((err) => this.deps.log(`build context cleanup: ${err}`));
    }
  }

  /** Removes the containers of `set` (reporting them on `out` when given, as after a step). */
  private async removeContainers(set: Set<string>, really: boolean, out: ((t: string) => void) | null): Promise<void> {
    if (!really) return;
    for (const id of [...set]) {
      try {
        await this.deps.containers.remove(id, { force: true, volumes: true, link: false });
        set.delete(id);
        this.tmpContainers.delete(id);
        out?.(` ---> Removed intermediate container ${shortId(id)}\n`);
      } catch (err) {
        if (isEngineError(err, 'NotFound')) {
          set.delete(id);
          this.tmpContainers.delete(id);
        } else {
          this.deps.log(`build: remove container ${id}: ${(err as Error).message}`);
          (out ?? ((t: string) => this.out(t)))(`Removing intermediate container ${shortId(id)}: ${(err as Error).message}\n`);
        }
      }
    }
  }

  /** A step's `Step n/m : …` line, with its BuildKit name in that dialect (ProgressMessage.vertex). */
  private stepLine(text: string, vertex: string | null): void {
    if (this.opts.quiet || this.opts.dialect !== 'buildkit') this.out(text);
    else this.emit({ stream: text, vertex });
  }

  /** Output of one stage: as is, or each line prefixed (`[name] `) when stages run side by side. */
  private stageOut(prefix: string | null): StageOutput {
    const room = this.room;
    const emit = this.emit;
    if (prefix === null) return { out: (t) => this.out(t), step: (t, v) => this.stepLine(t, v), flush: () => {}, room, emit };
    let partial = '';
    const flush = () => {
      if (partial) this.out(`${prefix}${partial}\n`);
      partial = '';
    };
    return {
      step: (t, v) => {
        flush();
        this.stepLine(`${prefix}${t}`, v);
      },
      out: (t) => {
        const text = partial + t;
        const end = text.lastIndexOf('\n');
        if (end < 0) {
          partial = text;
          return;
        }
        partial = text.slice(end + 1);
        this.out(text.slice(0, end + 1).replace(/^(?=.)/gm, prefix));
      },
      flush,
      room,
      emit,
    };
  }

  /** Output of stage `i` in the classic builder's order (see StageOrder). */
  private orderedStageOut(order: StageOrder, i: number): StageOutput {
    return {
      out: (t) => order.write(i, t.length, () => this.out(t)),
      step: (t, v) => order.write(i, t.length, () => this.stepLine(t, v)),
      flush: () => {},
      room: () => order.room(i, this.room),
      emit: (m) => order.write(i, 0, () => this.emit(m)),
    };
  }

  private async buildAll(): Promise<string> {
    let df;
    try {
      df = await runSliced(stagesOf(this.ctx!.dockerfile, this.opts.dialect ?? 'classic'));
    } catch (err) {
      if (err instanceof DockerfileParseError) throw invalidParameter(err.message);
      throw err;
    }
    let stages = df.stages;
    if (stages.length === 0) throw invalidParameter('dockerfile parse error: no build stage in current context');
    if (this.opts.target) {
      const i = stageIndex(stages, this.opts.target);
      if (i < 0) throw invalidParameter(`target stage ${JSON.stringify(this.opts.target)} could not be found`);
      stages = stages.slice(0, i + 1);
    }
    // Each --label becomes a LABEL step of the last stage, sorted, taken literally (Docker 28).
    for (const key of Object.keys(this.opts.labels).sort()) {
      const value = this.opts.labels[key]!;
      stages[stages.length - 1]!.commands.push({ kind: 'label', text: `LABEL ${key}=${value}`, labels: [{ key, value, noDelim: false }], literal: true });
    }
    for (const w of df.warnings) this.out(`[WARNING]: ${w}\n`);
    if (df.warnings.length) this.out('[WARNING]: Empty continuation lines will become errors in a future release.\n');

    const total = df.metaArgs.length + stages.length + stages.reduce((n, s) => n + s.commands.length, 0);
    let step = 1;
    const escape = df.escapeToken;
    if (this.opts.dialect === 'buildkit') {
      const build = hostPlatform();
      const target = this.opts.platform ? parsePlatform(this.opts.platform, build) : build;
      for (const [k, v] of platformArgs(build, target, this.opts.target || df.stages.at(-1)!.name)) this.args.addMetaArg(k, v);
    }
    for (const meta of df.metaArgs) {
      this.stepLine(`Step ${step++}/${total} : ${meta.text}\n`, null);
      const env = this.args.allMeta();
      for (const a of meta.args) {
        const v = a.value === undefined ? undefined : this.expand(a.value, env, escape);
        this.args.addArg(a.key, v);
        // BuildKit: a bare global ARG keeps the value it has (a platform ARG's).
        if (v === undefined && this.opts.dialect === 'buildkit' && env.has(a.key)) continue;
        this.args.addMetaArg(a.key, v);
      }
    }
    const epoch = this.opts.dialect === 'buildkit' ? this.sourceDateEpoch() : undefined;
    const seen = new Set<string>();
    for (const st of stages) {
      if (st.name && seen.has(st.name)) throw invalidParameter(`${st.name} stage name already used`);
      if (st.name) seen.add(st.name);
    }
    const meta = this.args.allMeta();
    const bases = stages.map((st) => this.expand(st.baseName, meta, escape));
    // BuildKit's named contexts: one named as a stage replaces the whole stage; one named as a base replaces the image.
    const baseIsStage = bases.map((b, i) => stageIndex(stages.slice(0, i), b) >= 0);
    const replacedBy = stages.map((st) => (st.name ? this.namedContext(st.name, this.stagePlatform(st, escape)) : undefined));
    const baseContexts = stages.map((st, i) => (baseIsStage[i] ? undefined : this.namedContext(bases[i]!, this.stagePlatform(st, escape))));
    const deps = stageDependencies(stages, bases).map((d, i) => (replacedBy[i] ? [] : d));
    this.metadataSteps(bases, baseIsStage, replacedBy, baseContexts);
    const parallel = hasIndependentStages(deps);
    const firstStep: number[] = [];
    for (const st of stages) {
      firstStep.push(step);
      step += 1 + st.commands.length;
    }
    const last = stages.length - 1;
    // Side by side, the classic builder's output is still Docker's sequential one, and the error
    // of the first stage (in the Dockerfile's order) that fails is the build's; BuildKit's stages
    // show as themselves and the first failure stops the build.
    const order = parallel && this.opts.dialect !== 'buildkit' ? new StageOrder(stages.length) : undefined;
    // By stage, in the order they came (BuildKit's build fails with the first in time).
    const errors = new Map<number, unknown>();
    const settled = stages.map(() => false);
    const stopAfterFailure = () => {
      const first = Math.min(...errors.keys());
      if (!order || settled.slice(0, first).every(Boolean)) this.stopStages.abort();
    };
    const runs: Array<Promise<StageState | null>> = [];
    stages.forEach((stage, i) => {
      runs.push(
        Promise.all(deps[i]!.map((j) => runs[j]!)).then(async (needed) => {
          let failed = true;
          const output = order ? this.orderedStageOut(order, i) : this.stageOut(parallel ? `[${stage.name || `stage-${i}`}] ` : null);
          try {
            if (needed.some((n) => n === null)) return null;
            const names = stageStepNames(stage, i, df.stages.length, bases[i]!, baseIsStage[i]! || baseContexts[i] !== undefined);
            const replacement = replacedBy[i];
            const state = replacement
              ? await this.contextStage(stage, i, replacement, firstStep[i]!, total, output)
              : await this.buildStage(stage, i, bases[i]!, firstStep[i]!, total, escape, output, names, baseContexts[i]);
            this.stageResults[i] = { name: stage.name, imageId: state.imageId, config: state.config, inherited: state.inherited };
            if (state.imageId && i !== last) output.emit({ aux: { ID: state.imageId } });
            failed = false;
            return state;
          } catch (err) {
            errors.set(i, err);
            return null;
          } finally {
            output.flush();
            settled[i] = true;
            order?.finish(i, failed);
            if (errors.size) stopAfterFailure();
          }
        }),
      );
    });
    const states = await Promise.all(runs);
    if (errors.size) throw order ? errors.get(Math.min(...errors.keys())) : errors.values().next().value;
    const state = states[last];
    if (state?.imageId && epoch !== undefined) {
      state.imageId = await this.withEpoch(state, epoch);
      this.emit({ epoch });
    }
    if (state?.imageId) this.emit({ aux: { ID: state.imageId } });
    const unused = this.args.unconsumed();
    // The classic builder's warning; BuildKit has none.
    if (unused.length && this.opts.dialect !== 'buildkit') this.out(`[Warning] One or more build-args ${goList(unused)} were not consumed\n`);
    if (!state?.imageId) throw invalidParameter('No image was generated. Is your Dockerfile empty?');
    return state.imageId;
  }

  /**
   * BuildKit's SOURCE_DATE_EPOCH (a build arg, else a global ARG's default): the time, in
   * seconds, the image and the history this build adds are dated; undefined when unset (or
   * `context`, which leaves it unset for a context the client sends).
   */
  private sourceDateEpoch(): number | undefined {
    const key = 'SOURCE_DATE_EPOCH';
    const v = this.args.fromOptions.get(key) ?? this.args.allMeta().get(key);
    if (v === undefined || v === null || v === '' || v === 'context') return undefined;
    const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
    // Go's int64, within what a date can hold.
    if (!Number.isSafeInteger(n) || Math.abs(n) > 8.64e12) throw invalidParameter(`invalid SOURCE_DATE_EPOCH: ${v}`);
    return n;
  }

  /**
   * The stage's image with `created` and the history entries this build made dated at `epoch`,
   * as BuildKit dates them: a child of the built image without a container config, so the cache
   * never offers it as a step (a build without the epoch does not get its dates) and the built
   * image stays an intermediate one.
   */
  private async withEpoch(state: StageState, epoch: number): Promise<string> {
    const when = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
    const { container_config: _cc, container: _c, ...rest } = state.image;
    const file: ImageConfigFile = { ...rest, created: when, history: (rest.history ?? []).map((h, i) => (i < state.inherited ? h : { ...h, created: when })) };
    const { id } = await this.deps.images.registerImage(Buffer.from(JSON.stringify(file)), [], state.imageId);
    state.image = file;
    return id;
  }

  private async buildStage(
    stage: Stage,
    index: number,
    base: string,
    step: number,
    total: number,
    escape: string,
    output: StageOutput,
    names: StageStepNames,
    baseContext: NamedContextMatch | undefined,
  ): Promise<StageState> {
    const { out } = output;
    this.checkCancelled();
    output.step(`Step ${step++}/${total} : ${stage.text}\n`, baseContext ? contextVertex(baseContext) : names.from);
    const state = await this.initStage(stage, index, base, escape, output, baseContext);
    out(` ---> ${shortId(state.imageId)}\n`);
    for (const [i, inst] of stage.commands.entries()) {
      this.checkCancelled();
      if (this.opts.dialect === 'buildkit' && names.command(i) && inst.kind === 'workdir' && workdirAfter(state.config, this.expand(inst.path, this.envFor(state), escape)) === '/') names.skip(i);
      const name = names.command(i);
      output.step(`Step ${step++}/${total} : ${inst.text}\n`, name && withVariables(name, this.envFor(state), escape));
      await this.dispatchStep(state, inst, escape);
      out(` ---> ${shortId(state.imageId)}\n`);
    }
    return state;
  }

  /**
   * BuildKit's first steps, in its dialect: the metadata of each image a stage starts from is
   * loaded before any stage runs (`[internal] load metadata for docker.io/library/busybox:latest`,
   * `[context base] load metadata for busybox` for a named context's image), once per name.
   */
  private metadataSteps(bases: string[], baseIsStage: boolean[], replacedBy: Array<NamedContextMatch | undefined>, baseContexts: Array<NamedContextMatch | undefined>): void {
    if (this.opts.dialect !== 'buildkit' || this.opts.quiet) return;
    const names = new Set<string>();
    bases.forEach((base, i) => {
      const context = replacedBy[i] ?? baseContexts[i];
      if (context) {
        if (context.source.kind === 'image' && context.source.ref !== 'scratch') names.add(`[context ${context.key}] load metadata for ${context.source.ref}`);
        return;
      }
      if (base.toLowerCase() === 'scratch' || baseIsStage[i]) return;
      names.add(`[internal] load metadata for ${sourceName(base)}`);
    });
    for (const name of names) this.emit({ doneVertex: name });
  }

  /** A stage a named context replaces: none of its instructions run, its image is the context's. */
  private async contextStage(stage: Stage, index: number, match: NamedContextMatch, step: number, total: number, output: StageOutput): Promise<StageState> {
    this.checkCancelled();
    output.step(`Step ${step}/${total} : ${stage.text}\n`, contextVertex(match));
    const imageId = await this.contextImage(match);
    output.out(` ---> ${shortId(imageId)}\n`);
    return this.newStageState(stage, index, imageId, imageId ? (await this.deps.images.resolve(imageId)).config : undefined, output);
  }

  /** The named context the client gave for `name` (a stage, a base, a --from) on `platform`, if any. */
  private namedContext(name: string, platform: string): NamedContextMatch | undefined {
    const contexts = this.opts.namedContexts;
    if (!contexts) return undefined;
    try {
      return contexts.lookup(name, platform || `linux/${hostArch()}`);
    } catch (err) {
      if (err instanceof UnsupportedNamedContext) throw invalidParameter(err.message);
      throw err;
    }
  }

  /** The image a named context stands for ('' for scratch): an image of the engine's, or one made of the client's directory. */
  private contextImage(match: NamedContextMatch): Promise<string> {
    let image = this.contextImages.get(match.key);
    if (!image) {
      const source = match.source;
      if (source.kind === 'image') image = source.ref === 'scratch' ? Promise.resolve('') : this.lookupImage(source.ref);
      else image = this.directoryContextImage(match.key, source);
      this.contextImages.set(match.key, image);
    }
    return image;
  }

  /**
   * A named context that is a directory (the client's, a git checkout, or a downloaded file as
   * `context`) as an image of one layer holding its files (owners included), made like a COPY on
   * scratch so that the cache finds it again while the files are the same.
   */
  private async directoryContextImage(key: string, source: Exclude<NamedContextSource, { kind: 'image' }>): Promise<string> {
    let files: BuildContext;
    if (source.kind === 'local') {
      files = await BuildContext.fromSentFiles(await this.opts.namedContexts!.openLocal(key, source.dirName, this.signal), this.deps.tmpRoot);
    } else if (source.kind === 'git') {
      // BuildKit's git source: the remote's HEAD unless a ref is named, and no .git directory.
      let repo: GitRemote;
      try {
        repo = parseGitUrl(source.url, 'HEAD');
      } catch (err) {
        throw err instanceof GitContextError ? invalidParameter(err.message) : err;
      }
      const checkout = await this.checkoutGit(repo, false);
      files = await BuildContext.ofDirectory(checkout.dir, checkout.context);
    } else {
      const tmp = await mkdtemp(join(this.deps.tmpRoot, 'docker-builder-url'));
      try {
        const [name] = await downloadSources([source.url], tmp, this.signal);
        // BuildKit's HTTP source: one file named `context`, readable by all.
        await rename(join(tmp, name!), join(tmp, 'context'));
        await chmod(join(tmp, 'context'), 0o644);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      files = await BuildContext.ofDirectory(tmp, tmp);
    }
    const state = this.newStageState(null, -1, '', undefined, { out: () => {}, room: this.room, emit: this.emit });
    try {
      const infos = await resolveSources(files.root, ['.'], { cmdName: 'COPY', fromContext: true });
      const containerConfig = copyConfig(state.config, { Cmd: [...DEFAULT_SHELL, `#(nop) COPY ${sourcesHash(infos)} in / `] });
      if (!(await this.probeCache(state, containerConfig))) {
        await this.withLayer(state, containerConfig, (root) => copySources(files.root, infos, root, '/', { decompress: false }));
      }
      return state.imageId;
    } finally {
      state.finishStep?.();
      await files.close();
    }
  }

  /** The platform a stage is built for: its FROM --platform, else the build's. */
  private stagePlatform(stage: Stage, escape: string): string {
    return stage.platform ? this.expand(stage.platform, this.args.allMeta(), escape) : this.opts.platform;
  }

  private expand(word: string, env: ReadonlyMap<string, string>, escape: string): string {
    try {
      return processWord(word, env, escape);
    } catch (err) {
      throw invalidParameter((err as Error).message);
    }
  }

  /** One instruction with Docker's rm/forcerm handling of the containers it made. */
  private async dispatchStep(state: StageState, inst: Instruction, escape: string): Promise<void> {
    let ok = false;
    try {
      await this.dispatch(state, inst, escape);
      ok = true;
    } finally {
      // The step's image is registered (or the step failed): stages waiting for it go on.
      state.finishStep?.();
      state.finishStep = undefined;
      await this.removeContainers(state.containers, this.opts.forceRm || (this.opts.rm && ok), state.out);
    }
  }

  /** A base or --from image: local, or pulled when missing (always with `pull`, as Docker's --pull). */
  private async lookupImage(name: string, emit: (m: ProgressMessage) => void = this.emit): Promise<string> {
    try {
      if (this.opts.pull) throw Object.assign(new Error('pull'), { pull: true });
      return await this.deps.images.lookup(name);
    } catch (err) {
      if (!(isEngineError(err, 'NotFound') || (err as { pull?: boolean }).pull)) throw err;
      if (!this.deps.images.pull) throw err;
      let ref: Reference;
      try {
        ref = withDefaultTag(parseNormalizedNamed(name));
      } catch {
        throw err;
      }
      const auth = authForDomain(this.opts.registryConfig ?? {}, ref.domain);
      for await (const m of this.deps.images.pull(familiarString(ref), undefined, this.opts.platform ? { platform: this.opts.platform } : {}, auth)) {
        this.checkCancelled();
        if (!this.opts.quiet) emit(m);
      }
      return this.deps.images.lookup(familiarString(ref));
    }
  }

  private async initStage(stage: Stage, index: number, name: string, escape: string, sink: StageSink, baseContext?: NamedContextMatch): Promise<StageState> {
    if (name === '') throw invalidParameter(`base name (${stage.baseName}) should not be blank`);
    let imageId = '';
    const prev = this.stageResults.slice(0, index).find((r) => r !== undefined && r.name === name.toLowerCase() && r.name !== '');
    if (prev) {
      imageId = prev.imageId;
    } else if (baseContext) {
      imageId = await this.contextImage(baseContext);
    } else if (name !== 'scratch') {
      imageId = await this.lookupImage(name, sink.emit);
    }
    const image = imageId ? (await this.deps.images.resolve(imageId)).config : undefined;
    const platform = this.stagePlatform(stage, escape);
    // A named context's image is taken for what it is, as BuildKit takes it.
    if (platform && image && !baseContext) {
      // There is no emulation here: the image must be the platform asked for.
      const [os, arch, variant] = platform.toLowerCase().split('/');
      const matches = os === (image.os || 'linux') && (!arch || arch === image.architecture) && (!variant || variant === (image.variant ?? ''));
      if (!matches) {
        throw invalidParameter(`image with reference ${name} was found but does not match the specified platform: wanted ${platform}, actual: ${image.os}/${image.architecture}${image.variant ? `/${image.variant}` : ''}`);
      }
    }
    const state = this.newStageState(stage, index, imageId, image, sink);
    const { out } = sink;
    if (prev) state.inherited = prev.inherited;
    const config = state.config;
    const triggers = config.OnBuild ?? [];
    if (triggers.length) {
      state.config.OnBuild = null;
      out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) {
        let inst: Instruction;
        try {
          inst = parseInstruction(parseLine(t));
        } catch (err) {
          throw invalidParameter((err as Error).message);
        }
        await this.dispatchStep(state, inst, escape);
      }
    }
    return state;
  }

  /** A stage's state on `imageId` (with its config `image`; none for scratch) before its first instruction. */
  private newStageState(stage: Stage | null, index: number, imageId: string, image: ImageConfigFile | undefined, sink: StageSink): StageState {
    const base = image ?? { architecture: hostArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    const config = copyConfig(base.config ?? {});
    if (!(config.Env ?? []).some((e) => e.startsWith('PATH='))) config.Env = [...(config.Env ?? []), `PATH=${DEFAULT_PATH}`];
    config.OpenStdin = false;
    config.StdinOnce = false;
    const args = this.args.forStage();
    return {
      imageId,
      image: base,
      config,
      maintainer: '',
      cmdSet: false,
      args,
      name: stage?.name ?? '',
      index,
      cacheBusted: false,
      containers: new Set(),
      out: sink.out,
      room: sink.room,
      emit: sink.emit,
      inherited: image?.history?.length ?? 0,
    };
  }

  private envFor(state: StageState): Map<string, string> {
    const env = state.config.Env ?? [];
    return envMap([...env, ...state.args.filterAllowed(env)]);
  }

  private shell(state: StageState): string[] {
    return state.config.Shell?.length ? [...state.config.Shell] : [...DEFAULT_SHELL];
  }

  private async dispatch(state: StageState, inst: Instruction, escape: string): Promise<void> {
    state.config.Image = state.imageId;
    const env = this.envFor(state);
    const x = (w: string) => this.expand(w, env, escape);
    const c = state.config;
    switch (inst.kind) {
      case 'env': {
        const pairs = await runSliced(expandedPairs(inst.env, x));
        c.Env = setEnv(c.Env ?? [], pairs);
        return this.commitNop(state, ['ENV', ...pairs.map(([k, v]) => `${k}=${v}`)].join(' '));
      }
      case 'label': {
        const pairs = inst.literal ? inst.labels.map((kv) => [kv.key, kv.value] as const) : await runSliced(expandedPairs(inst.labels, x));
        c.Labels ??= {};
        for (const [key, value] of pairs) c.Labels[key] = value;
        return this.commitNop(state, ['LABEL', ...pairs.map(([k, v]) => `${k}=${v}`)].join(' '));
      }
      case 'maintainer':
        state.maintainer = inst.maintainer;
        return this.commitNop(state, `MAINTAINER ${inst.maintainer}`);
      case 'cmd': {
        c.Cmd = inst.cmd.json ? inst.cmd.args : [...this.shell(state), ...inst.cmd.args];
        c.ArgsEscaped = false;
        await this.commitNop(state, `CMD ${goQuoteList(c.Cmd)}`);
        if (inst.cmd.args.length) state.cmdSet = true;
        return;
      }
      case 'entrypoint': {
        c.Entrypoint = inst.cmd.json ? inst.cmd.args : inst.cmd.args.length ? [...this.shell(state), ...inst.cmd.args] : null;
        c.ArgsEscaped = false;
        if (!state.cmdSet) c.Cmd = null;
        return this.commitNop(state, `ENTRYPOINT ${goQuoteList(c.Entrypoint)}`);
      }
      case 'shell':
        c.Shell = inst.shell;
        return this.commitNop(state, `SHELL ${goList(inst.shell)}`);
      case 'expose': {
        const ports: string[] = [];
        for (const p of inst.ports) {
          try {
            ports.push(...processWords(p, env, escape));
          } catch (err) {
            throw invalidParameter((err as Error).message);
          }
        }
        c.ExposedPorts ??= {};
        for (const p of ports) {
          const m = /^(?:(.*):)?(?:([0-9-]*):)?([0-9]+(?:-[0-9]+)?)(?:\/(\w+))?$/.exec(p);
          if (!m) throw invalidParameter(`invalid containerPort: ${p}`);
          const proto = (m[4] ?? 'tcp').toLowerCase();
          if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalidParameter(`invalid proto: ${proto}`);
          const [a, b] = m[3]!.split('-').map(Number) as [number, number | undefined];
          for (let port = a; port <= (b ?? a); port++) c.ExposedPorts[`${port}/${proto}`] = {};
        }
        return this.commitNop(state, `EXPOSE ${ports.join(' ')}`);
      }
      case 'user':
        c.User = x(inst.user);
        return this.commitNop(state, `USER ${c.User}`);
      case 'volume': {
        c.Volumes ??= {};
        const vols = inst.volumes.map(x);
        for (const v of vols) {
          if (v === '') throw invalidParameter('VOLUME specified can not be an empty string');
          c.Volumes[v] = {};
        }
        return this.commitNop(state, `VOLUME ${goList(vols)}`);
      }
      case 'stopsignal': {
        const sig = x(inst.signal);
        try {
          parseSignal(sig);
        } catch (err) {
          throw invalidParameter((err as Error).message);
        }
        c.StopSignal = sig;
        return this.commitNop(state, `STOPSIGNAL ${sig}`);
      }
      case 'arg': {
        let msg = 'ARG ';
        inst.args.forEach((a, i) => {
          const v = a.value === undefined ? undefined : x(a.value);
          if (i > 0) msg += ' ';
          msg += a.key + (v !== undefined ? `=${v}` : '');
          state.args.addArg(a.key, v);
        });
        return this.commitNop(state, msg);
      }
      case 'onbuild':
        c.OnBuild = [...(c.OnBuild ?? []), inst.expression];
        return this.commitNop(state, `ONBUILD ${inst.expression}`);
      case 'healthcheck': {
        const old = c.Healthcheck?.Test;
        if (old?.length && old[0] !== 'NONE') state.out(`Note: overriding previous HEALTHCHECK: ${goList(old)}\n`);
        c.Healthcheck = inst.health;
        const h = inst.health;
        return this.commitNop(
          state,
          `HEALTHCHECK &{Test:${goList(h.Test)} Interval:${formatGoDuration(h.Interval ?? 0)} Timeout:${formatGoDuration(h.Timeout ?? 0)} StartPeriod:${formatGoDuration(h.StartPeriod ?? 0)} StartInterval:${formatGoDuration(h.StartInterval ?? 0)} Retries:${h.Retries ?? 0}}`,
        );
      }
      case 'workdir':
        return this.workdir(state, x(inst.path));
      case 'run':
        return this.runStep(state, inst, x);
      case 'copy':
      case 'add':
        return this.copyStep(state, inst, x, (t) => expandHeredoc(t, env));
    }
  }

  // ---- cache ----

  private async childIndex(): Promise<Map<string, string[]>> {
    if (this.children) return this.children;
    const m = new Map<string, string[]>();
    const store = this.deps.images.images;
    for (const id of await store.list()) {
      const parent = await store.parent(id);
      const list = m.get(parent) ?? [];
      list.push(id);
      m.set(parent, list);
    }
    this.children = m;
    return m;
  }

  /**
   * Looks the step up in the cache. Stages that do not need each other run side by side, where
   * Docker's builder runs them in turn and the later one finds the earlier one's steps in its
   * cache: a step that another stage is making on the same image is waited for first, so it is
   * found the same way (BuildKit also makes such a step once).
   */
  private async probeCache(state: StageState, containerConfig: ContainerConfig): Promise<boolean> {
    if (this.opts.noCache) return false;
    state.finishStep?.(); // one probe per step; never leave another stage waiting on an earlier one
    const key = `${state.imageId}\n${cacheKey(containerConfig)}`;
    for (let other = this.making.get(key); other; other = this.making.get(key)) await other;
    // Taken before the lookup's first await, so that two stages never both miss and make it.
    let done!: () => void;
    const made = new Promise<void>((resolve) => (done = resolve));
    this.making.set(key, made);
    state.finishStep = () => {
      if (this.making.get(key) === made) this.making.delete(key);
      done();
    };
    if (state.cacheBusted) return false;
    const hit = this.opts.cacheFrom.length ? await this.cacheFromHit(state, containerConfig) : await this.localHit(state, containerConfig);
    if (!hit) {
      state.cacheBusted = true;
      return false;
    }
    state.finishStep();
    state.finishStep = undefined;
    state.out(' ---> Using cache\n');
    state.imageId = hit.id;
    state.image = hit.config;
    return true;
  }

  /** The newest image built here on the stage's image by the same step (moby's LocalImageCache). */
  private async localHit(state: StageState, containerConfig: ContainerConfig): Promise<{ id: string; config: ImageConfigFile } | null> {
    const key = cacheKey(containerConfig);
    const candidates = (await this.childIndex()).get(state.imageId) ?? [];
    let best: { id: string; created: string; config: ImageConfigFile } | null = null;
    for (const id of candidates) {
      const img = await this.deps.images.images.get(id);
      const cc = img?.config.container_config;
      if (!img || !cc) continue;
      if (state.imageId === '' && (img.config.history?.length ?? 0) > 1) continue;
      if (storedCacheKey(cc) !== key) continue;
      const at = img.config.created ?? '';
      if (!best || at > best.created) best = { id, created: at, config: img.config };
    }
    return best;
  }

  /**
   * With --cache-from, moby's ImageCache: a local hit counts only when a source image descends
   * from it; otherwise a source image (typically pulled, so without parent links) whose history
   * starts with the stage image's and whose next entry is this step gives the step's image: the
   * source itself when that entry is its last, else an image restored from its history and layers.
   */
  private async cacheFromHit(state: StageState, containerConfig: ContainerConfig): Promise<{ id: string; config: ImageConfigFile } | null> {
    const sources = await this.cacheSources();
    const local = await this.localHit(state, containerConfig);
    if (local) {
      for (const s of sources) if (await this.descendsFrom(s.id, local.id)) return local;
    }
    const parent = state.imageId ? state.image : null;
    const depth = parent?.history?.length ?? 0;
    const createdBy = (containerConfig.Cmd ?? []).join(' ');
    for (const target of sources) {
      const history = target.config.history ?? [];
      if (!historyExtends(target.config, parent) || history[depth]?.created_by !== createdBy) continue;
      if (history.length - 1 === depth) {
        if (state.imageId) await this.deps.images.setParent(target.id, state.imageId);
        return target;
      }
      const restored = await this.restoreCachedImage(state, target.config, depth, containerConfig);
      this.sources = [target]; // stay on one source from here, as moby does
      return restored;
    }
    return null;
  }

  private sources: Array<{ id: string; config: ImageConfigFile }> | null = null;

  private async cacheSources(): Promise<Array<{ id: string; config: ImageConfigFile }>> {
    if (this.sources) return this.sources;
    const found: Array<{ id: string; config: ImageConfigFile }> = [];
    for (const ref of this.opts.cacheFrom) {
      try {
        const { id, config } = await this.deps.images.resolve(ref);
        found.push({ id, config });
      } catch (err) {
        // Docker only logs it: a cache source that is not there is not an error.
        this.deps.log(`build: could not look up ${ref} for cache resolution, skipping: ${(err as Error).message}`);
      }
    }
    this.sources = found;
    return found;
  }

  private async descendsFrom(id: string, ancestor: string): Promise<boolean> {
    const seen = new Set<string>();
    for (let cur = await this.deps.images.images.parent(id); cur && !seen.has(cur); cur = await this.deps.images.images.parent(cur)) {
      if (cur === ancestor) return true;
      seen.add(cur);
    }
    return false;
  }

  /** The image of history entry `depth` of `target` on the stage's image (moby's restoreCachedImage). */
  private async restoreCachedImage(state: StageState, target: ImageConfigFile, depth: number, containerConfig: ContainerConfig): Promise<{ id: string; config: ImageConfigFile }> {
    const parent = state.imageId ? state.image : null;
    const entry = target.history![depth]!;
    const diffIds = [...(parent?.rootfs?.diff_ids ?? [])];
    if (!entry.empty_layer) {
      const layerIndex = (target.history ?? []).slice(0, depth).filter((h) => !h.empty_layer).length;
      const diff = target.rootfs?.diff_ids?.[layerIndex];
      if (!diff) throw invalidParameter('failed to restore cached image: the cache source has fewer layers than its history says');
      diffIds.push(diff);
    }
    const file: ImageConfigFile = {
      architecture: target.architecture,
      ...(target.variant ? { variant: target.variant } : {}),
      os: target.os,
      ...(target.author ? { author: target.author } : {}),
      config: copyConfig(containerConfig),
      created: entry.created,
      docker_version: '',
      history: [...(parent?.history ?? []), entry],
      rootfs: { type: 'layers', diff_ids: diffIds },
    };
    const { id } = await this.deps.images.registerImage(Buffer.from(JSON.stringify(file)), [], state.imageId || undefined);
    return { id, config: file };
  }

  // ---- commits ----

  private async commitNop(state: StageState, comment: string): Promise<void> {
    const containerConfig = copyConfig(state.config, { Cmd: [...this.shell(state), '#(nop) ', comment] });
    if (await this.probeCache(state, containerConfig)) return;
    const id = await this.createStepContainer(state, containerConfig);
    await this.newImage(state, containerConfig, null, id ?? '');
  }

  /**
   * Docker's classic builder commits every non-RUN step through a container it creates but never
   * starts (" ---> Running in …", removed after the step as RUN's are); the container's ID is
   * the image's `container`. FROM scratch has no image to create one from: none, as nothing runs.
   */
  private async createStepContainer(state: StageState, containerConfig: ContainerConfig): Promise<string | null> {
    if (!state.imageId) return null;
    this.checkCancelled();
    const created = await this.deps.containers.create(undefined, { ...copyConfig(containerConfig, { Image: state.imageId }), HostConfig: this.hostConfig() });
    this.tmpContainers.add(created.Id);
    state.containers.add(created.Id);
    for (const w of created.Warnings ?? []) state.out(` ---> [Warning] ${w}\n`);
    state.out(` ---> Running in ${shortId(created.Id)}\n`);
    return created.Id;
  }

  private async newImage(state: StageState, containerConfig: ContainerConfig, layer: AppliedLayer | null, containerId: string): Promise<void> {
    const parent = state.image;
    const empty = layer === null || layer.diffId === EMPTY_TAR_DIFF_ID;
    const when = rfc3339NanoNow();
    const entry: NonNullable<ImageConfigFile['history']>[number] = { created: when, created_by: (containerConfig.Cmd ?? []).join(' ') };
    if (state.maintainer) entry.author = state.maintainer;
    if (empty) entry.empty_layer = true;
    const file: ImageConfigFile = {
      architecture: parent.architecture || hostArch(),
      ...(parent.variant ? { variant: parent.variant } : {}),
      os: parent.os || 'linux',
      ...(state.maintainer ? { author: state.maintainer } : {}),
      config: copyConfig(state.config),
      container: containerId,
      container_config: containerConfig,
      created: when,
      docker_version: '',
      history: [...(parent.history ?? []), entry],
      rootfs: { type: 'layers', diff_ids: [...(parent.rootfs?.diff_ids ?? []), ...(empty ? [] : [layer.diffId])] },
    };
    let id: string | undefined;
    try {
      ({ id } = await this.deps.images.registerImage(Buffer.from(JSON.stringify(file)), [], state.imageId || undefined));
    } finally {
      if (layer) this.deps.images.layers.unpin(layer.chainId);
      // No image holds the layer when it is empty or the registration failed (its parent went).
      if (layer && (empty || id === undefined)) await this.deps.images.releaseLayers([layer.chainId]).catch(() => {});
    }
    // A later stage's same step on the same image finds this one in the cache (the first child too).
    if (this.children) this.children.set(state.imageId, [...(this.children.get(state.imageId) ?? []), id]);
    state.imageId = id;
    state.image = file;
  }

  private topChain(state: StageState): Promise<string | null> {
    return state.imageId ? this.deps.images.resolve(state.imageId).then((r) => r.topChainId) : Promise.resolve(null);
  }

  /** A fresh RW layer on the stage's image, mounted, for `fn`; its changes become the step's layer. */
  private async withLayer(state: StageState, containerConfig: ContainerConfig, fn: (root: ContainerRoot) => Promise<void>): Promise<void> {
    const layers = this.deps.images.layers;
    const id = generateId();
    const parent = await this.topChain(state);
    await this.marks.add(id);
    await layers.createRWLayer(id, parent).catch(async (err) => {
      await this.marks.remove(id);
      throw err;
    });
    let applied: AppliedLayer;
    try {
      applied = await this.rwLayerDiff(id, parent, true, fn);
    } finally {
      await this.releaseLayer(id);
    }
    await this.newImage(state, containerConfig, applied, '');
  }

  /** `fn` on the mounted rootfs of a created (never started) step container; its upper dir becomes the layer. */
  private async inContainerLayer(state: StageState, containerConfig: ContainerConfig, id: string, fn: (root: ContainerRoot) => Promise<void>): Promise<void> {
    const applied = await this.rwLayerDiff(id, await this.topChain(state), this.stepContainersGo(), fn);
    await this.newImage(state, containerConfig, applied, id);
  }

  /** Whether a step's container is removed once the step has committed (rm, forcerm). */
  private stepContainersGo(): boolean {
    return this.opts.rm || this.opts.forceRm;
  }

  /**
   * The changes in RW layer `id` (after `fn` on its mounted root, when given) as a layer on
   * `parent`. `adopt`: nothing needs the RW layer's files after this, so the layer takes its
   * upper dir as it is instead of a copy.
   */
  private async rwLayerDiff(id: string, parent: string | null, adopt: boolean, fn?: (root: ContainerRoot) => Promise<void>): Promise<AppliedLayer> {
    const layers = this.deps.images.layers;
    if (fn) {
      const merged = await layers.mountRW(id);
      try {
        const root = await ContainerRoot.open(merged);
        try {
          await fn(root);
        } finally {
          await root.close();
        }
      } finally {
        await layers.unmountRW(id);
      }
    }
    const data = await layers.rwGraphDriverData(id);
    if (!adopt) return upperDirLayer(data.UpperDir!, parent, (p, src) => layers.applyLayer(p, src));
    return upperDirLayer(data.UpperDir!, parent, (p, src) => layers.adoptRWLayer(id, p, src), { asLayer: true });
  }

  private async workdir(state: StageState, path: string): Promise<void> {
    const c = state.config;
    c.WorkingDir = workdirAfter(c, path);
    const containerConfig = copyConfig(c, { Cmd: [...this.shell(state), `#(nop) WORKDIR ${c.WorkingDir}`] });
    if (await this.probeCache(state, containerConfig)) return;
    const mkdirWorkdir = async (root: ContainerRoot) => {
      const r = await root.resolve(c.WorkingDir!, { followFinal: true, createDirs: true });
      try {
        const st = await r.lstat().catch(() => null);
        if (!st) await mkdir(r.at(), { mode: 0o755 }); else if (!st.isDirectory()) throw invalidParameter(`mkdir ${c.WorkingDir}: not a directory`);
      } finally {
        await r.close();
      }
    };
    // Docker makes the directory in the step container's rootfs (ContainerCreateWorkdir).
    const container = await this.createStepContainer(state, containerConfig);
    if (container) await this.inContainerLayer(state, containerConfig, container, mkdirWorkdir);
    else await this.withLayer(state, containerConfig, mkdirWorkdir);
  }

  private async copyStep(state: StageState, inst: Extract<Instruction, { kind: 'copy' | 'add' }>, x: (w: string) => string, expandDoc: (t: string) => string): Promise<void> {
    if (this.opts.dialect !== 'buildkit' && inst.chmod) throw invalidParameter(requiresBuildkit('chmod'));
    const cmdName = inst.kind.toUpperCase();
    const sources = inst.sources.map(x);
    const dest = x(inst.dest);
    const chown = inst.chown ? x(inst.chown) : '';
    const chmod = inst.chmod ? parseChmod(x(inst.chmod)) : undefined;
    // BuildKit's ADD takes a git repository's URL as a source; to the classic builder it is a path of the context.
    const gitRefs = inst.kind === 'add' && this.opts.dialect === 'buildkit' ? buildkitGitSources(sources) : new Map<string, BuildkitGitRef>();
    const urls = inst.kind === 'add' ? sources.filter((s) => !gitRefs.has(s) && isRemoteURL(s)) : [];
    if (inst.heredocs && urls.length) throw invalidParameter(`${cmdName} of here-documents and URLs at once is not supported by this builder`);
    const local = sources.filter((s) => !urls.includes(s) && !gitRefs.has(s));
    let checksum = inst.checksum === undefined ? undefined : x(inst.checksum);
    if (checksum !== undefined) {
      // BuildKit's: a pinned digest for one http(s) source, a commit for one git source.
      if (sources.length > 1) throw invalidParameter("checksum can't be specified for multiple sources");
      if (urls.length !== 1 && gitRefs.size !== 1) throw invalidParameter('checksum requires HTTP(S) or Git sources');
      if (urls.length && !/^sha(256:[0-9a-f]{64}|384:[0-9a-f]{96}|512:[0-9a-f]{128})$/.test(checksum)) throw invalidParameter(`invalid checksum digest format: ${checksum}`);
    }
    for (const ref of gitRefs.values()) {
      if (inst.keepGitDir !== undefined && ref.keepGitDir !== undefined && inst.keepGitDir !== ref.keepGitDir) throw invalidParameter('inconsistent keep-git-dir configuration');
      if (checksum !== undefined && ref.checksum !== undefined && checksum !== ref.checksum) throw invalidParameter(`checksum mismatch ${goQuote(checksum)} != ${goQuote(ref.checksum)}`);
      checksum ??= ref.checksum;
      if (checksum !== undefined && !/^[a-fA-F0-9]+$/.test(checksum)) throw invalidParameter(`invalid checksum ${checksum} for Git URL, expected hex commit hash`);
    }
    let srcRoot: ContainerRoot = this.ctx!.root;
    const cleanups: Array<() => Promise<void>> = [];
    const from = inst.kind === 'copy' && inst.from !== undefined ? x(inst.from) : undefined;
    const selection: SourceSelection = { ...(inst.excludes ? { excludes: inst.excludes } : {}), ...(inst.parents ? { parents: true } : {}) };
    const origin: SourceOrigin = { cmdName, fromContext: true, buildkit: this.opts.dialect === 'buildkit' };
    try {
      let infos: CopySource[] = [];
      let mountSource = async () => {};
      if (from !== undefined) {
        const imageId = await this.fromImageId(from, state);
        const mount = async () => {
          const mounted = await this.mountImage(imageId);
          srcRoot = mounted.root;
          cleanups.push(mounted.cleanup);
        };
        const known = imageId ? this.sourceHashes.get(imageId, local, selection) : undefined;
        if (known) {
          infos = known;
          mountSource = mount; // only when the step is not cached
        } else {
          await mount();
          infos = local.length ? await resolveSelected(srcRoot, local, { ...origin, fromContext: false }, selection) : [];
          if (imageId) this.sourceHashes.set(imageId, local, selection, infos);
        }
      } else if (local.length) infos = await resolveSelected(srcRoot, local, origin, selection);
      let remote: { root: ContainerRoot; infos: CopySource[] } | null = null;
      // Sources written apart from the context: here-documents (BuildKit's inline files, named
      // after them) or downloads, each in a private temporary directory.
      const tempSources = async (prefix: string, fill: (dir: string) => Promise<string[]>) => {
        const dir = await mkdtemp(join(this.deps.tmpRoot, prefix));
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        const names = await fill(dir);
        const root = await ContainerRoot.open(dir);
        cleanups.push(() => root.close());
        return { root, infos: await resolveSources(root, names, { cmdName, fromContext: false }) };
      };
      const heredocs = inst.heredocs;
      if (heredocs) {
        remote = await tempSources('docker-builder-heredoc', async (dir) => {
          for (const d of heredocs) await writeFile(join(dir, d.name), d.expand ? expandDoc(d.content) : d.content, { mode: 0o644 });
          return heredocs.map((d) => d.name);
        });
      } else if (urls.length) remote = await tempSources('docker-builder-url', (dir) => downloadSources(urls, dir, this.signal, checksum, this.opts.dialect !== 'buildkit'));
      // A git source is keyed by the commit its ref names before it is fetched: a cached step fetches nothing.
      const gits = [...gitRefs.values()].map((ref) => ({ ref, keepGitDir: inst.keepGitDir ?? ref.keepGitDir ?? false }));
      const gitKeys: Array<{ commit: string; hash: string }> = [];
      for (const g of gits) gitKeys.push(await this.gitSourceKey(g.ref, g.keepGitDir, checksum));
      const others = [...infos, ...(remote?.infos ?? [])];
      // BuildKit has no such rule: each source goes into the destination if it is a directory, else becomes it.
      if (this.opts.dialect !== 'buildkit' && others.length + gits.length > 1 && !dest.endsWith('/')) {
        throw invalidParameter(`When using ${cmdName} with more than one source file, the destination must be a directory and end with a /`);
      }
      // --unpack changes what the same sources make: it is part of the step (and its cache key).
      const unpack = inst.unpack === undefined ? '' : `--unpack=${inst.unpack} `;
      const stepConfig = (keys: ReadonlyArray<{ hash: string }>) => {
        const comment = `${cmdName} ${chown ? `--chown=${chown} ` : ''}${chmod !== undefined ? `--chmod=${x(inst.chmod!)} ` : ''}${unpack}${sourcesHash([...others, ...keys])} in ${dest} `;
        return copyConfig(state.config, { Cmd: [...this.shell(state), `#(nop) ${comment}`] });
      };
      let containerConfig = stepConfig(gitKeys);
      if (await this.probeCache(state, containerConfig)) return;
      const repos: Array<{ root: ContainerRoot; infos: CopySource[]; commit: string }> = [];
      for (const g of gits) repos.push(await this.gitSource(g.ref, g.keepGitDir, checksum, cmdName, cleanups));
      // The ref may have moved since it was resolved: the step is keyed by what was fetched.
      if (repos.some((r, i) => r.commit !== gitKeys[i]!.commit)) {
        containerConfig = stepConfig(repos.map((r, i) => ({ hash: gitSourceHash(r.commit, gits[i]!.ref, gits[i]!.keepGitDir) })));
        if (await this.probeCache(state, containerConfig)) return;
      }
      await mountSource();
      let destPath = dest;
      if (!posix.isAbsolute(destPath)) destPath = posix.join(state.config.WorkingDir || '/', destPath) + (dest.endsWith('/') || dest === '.' ? '/' : '');
      await this.withLayer(state, containerConfig, async (root) => {
        let owner: { uid: number; gid: number } | undefined = { uid: 0, gid: 0 };
        if (chown) {
          const spec = chown.includes(':') ? chown : `${chown}:${chown}`;
          try {
            const u = await resolveUser(root.hostPath, spec);
            owner = { uid: u.uid, gid: u.gid };
          } catch (err) {
            throw invalidParameter(`unable to convert uid/gid chown string to host mapping: ${(err as Error).message}`);
          }
        } else if (from !== undefined) owner = undefined;
        const opts = { ...(owner ? { chown: owner } : {}), ...(chmod !== undefined ? { chmod } : {}), buildkitMadeDirs: this.opts.dialect === 'buildkit' };
        if (infos.length) await copySources(srcRoot, infos, root, destPath, { ...opts, decompress: inst.kind === 'add' && inst.unpack !== false });
        // A remote archive is copied as it is unless ADD --unpack=true; a here-document never is.
        if (remote) await copySources(remote.root, remote.infos, root, destPath, { ...opts, decompress: urls.length > 0 && inst.unpack === true });
        for (const repo of repos) await copySources(repo.root, repo.infos, root, destPath, { ...opts, decompress: false });
      });
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    }
  }

  /** A git source of ADD as a directory source whose content goes to the destination. */
  private async gitSource(
    ref: BuildkitGitRef,
    keepGitDir: boolean,
    checksum: string | undefined,
    cmdName: string,
    cleanups: Array<() => Promise<void>>,
  ): Promise<{ root: ContainerRoot; infos: CopySource[]; commit: string }> {
    const checkout = await this.checkoutGit(ref, keepGitDir, checksum);
    cleanups.push(() => rm(checkout.dir, { recursive: true, force: true }));
    const root = await ContainerRoot.open(checkout.context);
    cleanups.push(() => root.close());
    return { root, infos: await resolveSources(root, ['.'], { cmdName, fromContext: false }), commit: checkout.commit };
  }

  /**
   * BuildKit's git source (ADD's, a named context's): the repository checked out at its ref in a
   * new directory under tmpRoot (the caller removes `dir`), the commit checked against `checksum`,
   * without its .git unless kept; over ssh through the client's `default` agent, which it must forward.
   */
  private async checkoutGit(repo: GitRemote, keepGitDir: boolean, checksum?: string): Promise<{ dir: string; context: string; commit: string }> {
    const checkout = await this.withGitAuth(repo, (opts) => cloneGitRepo(repo, this.deps.tmpRoot, this.signal, opts));
    try {
      const commit = await checkedOutCommit(checkout.dir);
      checkGitChecksum(commit, checksum);
      if (!keepGitDir) await rm(join(checkout.dir, '.git'), { recursive: true, force: true });
      // The checkout's root is a directory of BuildKit's snapshot (0755); tmpRoot keeps others out.
      await chmod(checkout.dir, 0o755);
      return { ...checkout, commit };
    } catch (err) {
      await rm(checkout.dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Runs git's work for `repo`: over ssh through the client's `default` agent, which it must have
   * forwarded (BuildKit's git source). GitContextError becomes the request's invalid parameter.
   */
  private async withGitAuth<T>(repo: GitRemote, work: (opts: { sshAuthSock?: string }) => Promise<T>): Promise<T> {
    let agent: { path: string; close: () => Promise<void> } | undefined;
    if (!/^(?:https?|git):\/\//i.test(repo.remote)) {
      const agents = this.opts.ssh;
      const absent = agents ? await agents.check('default') : noSshKey('default');
      if (absent !== null) throw invalidParameter(absent);
      agent = await listenSsh({ uid: 0, gid: 0, mode: 0o600 }, (conn) => agents!.connect('default', conn));
    }
    try {
      return await work(agent ? { sshAuthSock: agent.path } : {});
    } catch (err) {
      throw err instanceof GitContextError ? invalidParameter(err.message) : err;
    } finally {
      await agent?.close();
    }
  }

  /**
   * ADD's key for a git source before anything is fetched, as BuildKit keys it: the commit its ref
   * names on the remote (checked against --checksum), with what selects the copied files.
   */
  private async gitSourceKey(ref: BuildkitGitRef, keepGitDir: boolean, checksum: string | undefined): Promise<{ commit: string; hash: string }> {
    const commit = await this.withGitAuth(ref, (opts) => resolveRemoteCommit(ref, this.deps.tmpRoot, this.signal, opts));
    checkGitChecksum(commit, checksum);
    return { commit, hash: gitSourceHash(commit, ref, keepGitDir) };
  }

  /** COPY --from: the image of a previous stage (name or index) or an image by name ('' for scratch). */
  private async fromImageId(from: string, state: StageState): Promise<string> {
    const current = state.index;
    const earlier = this.stageResults.slice(0, current);
    let imageId: string | undefined = earlier.find((r) => r !== undefined && r.name !== '' && r.name === from.toLowerCase())?.imageId;
    if (imageId === undefined && /^\d+$/.test(from)) {
      const i = Number(from);
      if (i === current) throw invalidParameter(`invalid from flag value ${from}: refers to current build stage`);
      if (i > current) throw invalidParameter(`invalid from flag value ${from}: index out of bounds`);
      imageId = earlier[i]?.imageId;
      if (imageId === undefined) throw invalidParameter(`invalid from flag value ${from}: stage ${i} was not built`);
    }
    if (imageId !== undefined) return imageId;
    const context = this.namedContext(from, this.opts.platform);
    try {
      return await (context ? this.contextImage(context) : this.lookupImage(from, state.emit));
    } catch (err) {
      // Docker wraps whatever finding the image said (a failed pull, a bad name).
      if (isEngineError(err)) throw new EngineError(err.kind, `invalid from flag value ${from}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** An image's rootfs mounted read-only (through a temporary RW layer) for a COPY --from. */
  private mountImage(imageId: string): Promise<{ root: ContainerRoot; cleanup: () => Promise<void> }> {
    return mountImageRoot(this.deps, this.marks, imageId);
  }

  private releaseLayer(id: string): Promise<void> {
    return releaseTempLayer(this.deps, this.marks, id);
  }

  private hostConfig(): HostConfig {
    const o = this.opts;
    const hc: HostConfig = {
      NetworkMode: !o.networkMode || o.networkMode === 'default' ? 'bridge' : o.networkMode,
      ...(o.extraHosts.length ? { ExtraHosts: o.extraHosts } : {}),
      ...(o.shmSize ? { ShmSize: o.shmSize } : {}),
      ...(o.memory ? { Memory: o.memory } : {}),
      ...(o.memorySwap ? { MemorySwap: o.memorySwap } : {}),
      ...(o.cpuShares ? { CpuShares: o.cpuShares } : {}),
      ...(o.cpuSetCpus ? { CpusetCpus: o.cpuSetCpus } : {}),
      ...(o.cpuSetMems ? { CpusetMems: o.cpuSetMems } : {}),
      ...(o.cgroupParent ? { CgroupParent: o.cgroupParent } : {}),
      ...(o.cpuPeriod ? { CpuPeriod: o.cpuPeriod } : {}),
      ...(o.cpuQuota ? { CpuQuota: o.cpuQuota } : {}),
      ...(o.ulimits?.length ? { Ulimits: o.ulimits } : {}),
    } as HostConfig;
    return hc;
  }

  private async runStep(state: StageState, inst: Extract<Instruction, { kind: 'run' }>, x: (w: string) => string): Promise<void> {
    if (this.opts.dialect !== 'buildkit' && (inst.mounts || inst.network !== undefined)) throw invalidParameter(requiresBuildkit(inst.mounts ? 'mount' : 'network'));
    // BuildKit checks the entitlement of every step that would run on the host's network, cached or not.
    const hostNetwork = inst.network === 'host' || (inst.network === undefined && this.opts.networkMode === 'host');
    if (hostNetwork && this.opts.networkHostAllowed === false) throw invalidParameter('network.host is not allowed');
    const c = state.config;
    const cmd = inst.cmd;
    const cmdFromArgs = cmd.json ? cmd.args : [...this.shell(state), ...cmd.args];
    const buildArgs = state.args.filterAllowed(c.Env ?? []);
    const mounts = (inst.mounts ?? []).map((spec) => ({ spec: x(spec), mount: parseMountSpec(spec, x) }));
    // BuildKit's flags are part of what the step is (its history shows them as BuildKit's does).
    const flags = [...(await Promise.all(mounts.map((m) => this.mountFlag(state, m.spec, m.mount)))), ...(inst.network ? [`--network=${inst.network}`] : [])];
    const withArgs = buildArgs.length ? prependEnvOnCmd(state.args, buildArgs, cmdFromArgs) : cmdFromArgs;
    const saveCmd = [...flags, ...withArgs];
    const probeConfig = copyConfig(c, { Cmd: saveCmd, ArgsEscaped: false, ...(withArgs.length ? { Entrypoint: null } : {}) });
    if (await this.probeCache(state, probeConfig)) return;
    const runConfig = copyConfig(c, {
      Cmd: cmdFromArgs,
      ArgsEscaped: false,
      Env: [...(c.Env ?? []), ...buildArgs],
      // `RUN []` runs the image's own entrypoint and command, as the classic builder overrides
      // the entrypoint only for a command it was given.
      Entrypoint: withArgs.length ? [''] : c.Entrypoint,
      Healthcheck: { Test: ['NONE'] },
      Image: state.imageId,
      AttachStdout: true,
      AttachStderr: true,
      ...(this.opts.sandboxHostname ? { Hostname: this.opts.sandboxHostname } : {}),
    });
    if (!state.imageId) throw invalidParameter('Please provide a source image with `from` prior to run');
    this.checkCancelled();
    let prepared: PreparedMounts | null = null;
    if (mounts.length || inst.script) {
      prepared = await prepareRunMounts(
        mounts.map((m) => m.mount),
        c.WorkingDir ?? '/',
        inst.script,
        {
          context: this.ctx!.root,
          tmpRoot: this.deps.tmpRoot,
          cacheMount: (id, target, perm, opts) => {
            // BuildKit keys a cache by its namespace too (`<ns>/<id>`); wharfd's own ids stay as they were without one.
            const ns = this.opts.cacheMountNamespace;
            return this.deps.cacheMounts.acquire(id, target, perm, ns ? { ...opts, key: `${ns}/${opts.key ?? id}` } : opts);
          },
          imageOf: (from) => this.fromImageId(from, state),
          mountImage: (imageId) => this.mountImage(imageId),
          ...(this.opts.secret ? { secret: this.opts.secret } : {}),
          ...(this.opts.ssh ? { ssh: this.opts.ssh } : {}),
        },
      );
      // A secret given as a variable reaches the step's process only, never its container's config.
      const has = new Set(runConfig.Env!.map(envKey));
      for (const [k, v] of Object.entries(prepared.defaultEnv)) if (!has.has(k)) runConfig.Env!.push(`${k}=${v}`);
    }
    try {
      await this.runContainer(state, runConfig, probeConfig, prepared, inst.network);
    } finally {
      await prepared?.cleanup();
    }
  }

  /**
   * A RUN's `--mount` as its cache key holds it: a bind mount's content is an input of the step,
   * as in BuildKit, so the flag carries the source's content hash or the stage image it comes from.
   */
  private async mountFlag(state: StageState, spec: string, m: RunMount): Promise<string> {
    if (m.type !== 'bind') return `--mount=${spec}`;
    if (m.from) return `--mount=${spec}#${await this.fromImageId(m.from, state)}`;
    const [source] = await resolveSources(this.ctx!.root, [m.source], { cmdName: 'RUN --mount', fromContext: true });
    return `--mount=${spec}#${source!.hash}`;
  }

  /** Runs a RUN step's container and commits what it changed (less the mount points it made). */
  private async runContainer(state: StageState, runConfig: ContainerConfig, probeConfig: ContainerConfig, prepared: PreparedMounts | null, network: string | undefined): Promise<void> {
    const containers = this.deps.containers;
    const hostConfig = this.hostConfig();
    if (network === 'none' || network === 'host') hostConfig.NetworkMode = network;
    if (prepared?.mounts.length) hostConfig.Mounts = prepared.mounts;
    const processEnv = Object.entries(prepared?.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const created = await containers.create(undefined, { ...runConfig, HostConfig: hostConfig }, undefined, processEnv.length ? { processEnv } : {});
    const id = created.Id;
    this.tmpContainers.add(id);
    state.containers.add(id);
    // What the rootfs lacks along each mount target becomes a mount point the run leaves behind.
    const stubs = prepared?.targets.length
      ? await this.deps.images.layers.withRootfsView(id, async (rootfs) => {
          const root = await ContainerRoot.open(rootfs, { readonlyRootfs: true });
          try {
            return await missingMountPoints(root, prepared.targets);
          } finally {
            await root.close();
          }
        })
      : [];
    for (const w of created.Warnings ?? []) state.out(` ---> [Warning] ${w}\n`);
    state.out(` ---> Running in ${shortId(id)}\n`);
    const session = await containers.attach(id, { stream: true, logs: false, stdin: false, stdout: true, stderr: true });
    // The classic builder shows a RUN's stderr in red: each write wrapped in ESC[91m … ESC[0m
    // (moby's streamformatter stderr writer); clients match on it. BuildKit's logs are as written.
    const sink = (paint: (t: string) => string) => {
      const dec = new StringDecoder('utf8');
      return new Writable({
        write: (chunk: Buffer, _e, cb) => {
          const text = dec.write(chunk);
          if (text) state.out(paint(text));
          state.room().then(() => cb(), cb);
        },
        final: (cb) => {
          const rest = dec.end();
          if (rest) state.out(paint(rest));
          cb();
        },
      });
    };
    const waiter = await containers.wait(id, 'next-exit');
    const red = this.opts.dialect === 'buildkit' ? (t: string) => t : (t: string) => `\x1b[91m${t}\x1b[0m`;
    const attached = session.run({ stdin: null, stdout: sink((t) => t), stderr: sink(red) });
    const onAbort = () => {
      containers.remove(id, { force: true, volumes: true, link: false }).catch((err) => this.deps.log(`build cancelled: remove ${id}: ${err instanceof Error ? err.message : err}`));
    };
    this.signal.addEventListener('abort', onAbort, { once: true });
    // Aborted while the container was being made: the listener would never fire.
    if (this.signal.aborted) onAbort();
    let status: { StatusCode: number; Error?: { Message: string } | null };
    try {
      await containers.start(id);
      await attached;
      status = await waiter.result;
    } finally {
      this.signal.removeEventListener('abort', onAbort);
    }
    this.checkCancelled();
    if (status.StatusCode !== 0) {
      const command = runConfig.Cmd!.join(' ');
      let msg = `The command '${command}' returned a non-zero code: ${status.StatusCode}`;
      if (status.Error?.Message) msg += `: ${status.Error.Message}`;
      throw new StepError(msg, status.StatusCode, command);
    }
    const applied = await this.rwLayerDiff(id, await this.topChain(state), this.stepContainersGo(), stubs.length ? (root) => removeMountPoints(root, stubs) : undefined);
    await this.newImage(state, probeConfig, applied, id);
  }
}

/** A RUN --mount spec, its values expanded, with the parse error as the API's. */
function parseMountSpec(spec: string, expand: (w: string) => string): RunMount {
  try {
    return parseRunMount(spec, expand);
  } catch (err) {
    if (err instanceof DockerfileParseError) throw invalidParameter(err.message);
    throw err;
  }
}

/** The sources of a BuildKit ADD that are git repositories' URLs, parsed. */
function buildkitGitSources(sources: string[]): Map<string, BuildkitGitRef> {
  const refs = new Map<string, BuildkitGitRef>();
  for (const s of sources) {
    try {
      const ref = parseBuildkitGitRef(s);
      if (ref) refs.set(s, ref);
    } catch (err) {
      throw err instanceof GitContextError ? invalidParameter(err.message) : err;
    }
  }
  return refs;
}

/** An image's rootfs (COPY --from, RUN --mount from=, BuildKit's local and tar exporters) mounted read-only through a temporary RW layer, marked so a crash's is removed at start. */
async function mountImageRoot(deps: BuildServiceDeps, marks: BuildLayerMarks, imageId: string): Promise<{ root: ContainerRoot; cleanup: () => Promise<void> }> {
  const layers = deps.images.layers;
  const id = generateId();
  const chain = imageId ? (await deps.images.resolve(imageId)).topChainId : null;
  await marks.add(id);
  // Bare: the image's own files, without a container's init layer (.dockerenv, /etc/hosts stubs).
  await layers.createRWLayer(id, chain, { bare: true }).catch(async (err) => {
    await marks.remove(id);
    throw err;
  });
  try {
    const merged = await layers.mountRW(id);
    const root = await ContainerRoot.open(merged, { readonlyRootfs: true });
    return {
      root,
      cleanup: async () => {
        await root.close();
        await releaseTempLayer(deps, marks, id);
      },
    };
  } catch (err) {
    await releaseTempLayer(deps, marks, id);
    throw err;
  }
}

/** Removes a temporary RW layer; its marker stays when that fails, for the next start to retry. */
async function releaseTempLayer(deps: BuildServiceDeps, marks: BuildLayerMarks, id: string): Promise<void> {
  try {
    await deps.images.layers.removeRWLayer(id);
    await marks.remove(id);
  } catch (err) {
    deps.log(`build: remove layer ${id}: ${err}`);
  }
}

/** moby's isValidParent: `img`'s history and layers start with all of `parent`'s. */
function historyExtends(img: ImageConfigFile, parent: ImageConfigFile | null): boolean {
  const history = img.history ?? [];
  if (history.length === 0) return false;
  const parentHistory = parent?.history ?? [];
  const parentDiffs = parent?.rootfs?.diff_ids ?? [];
  if (!parent || (parentHistory.length === 0 && parentDiffs.length === 0)) return true;
  const diffs = img.rootfs?.diff_ids ?? [];
  if (parentHistory.length >= history.length || parentDiffs.length > diffs.length) return false;
  return parentHistory.every((h, i) => isDeepStrictEqual(h, history[i])) && parentDiffs.every((d, i) => d === diffs[i]);
}

/** The vertex BuildKit shows for a named context that an image stands for; a local one's transfer has its own. */
function contextVertex(match: NamedContextMatch): string | null {
  return match.source.kind === 'image' ? `[context ${match.key}] ${match.source.ref}` : null;
}

/** The working directory after `WORKDIR path` on `config`'s. */
function workdirAfter(config: ContainerConfig, path: string): string {
  const dir = posix.isAbsolute(path) ? posix.normalize(path) : posix.join(config.WorkingDir || '/', path);
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}
