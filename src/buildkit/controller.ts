/**
 * BuildKit's control API and frontend gateway as wharfd serves them on /grpc, for the Docker CLI's
 * buildx plugin (which `docker build` runs whenever it is installed) and other BuildKit clients.
 *
 * wharfd has one frontend, `dockerfile.v0`, and runs it with its classic builder: the Dockerfile,
 * the .dockerignore and the context come from the client's session (file-sync.ts), the build's
 * progress goes out as vertexes (builder-progress.ts), and the `moby` exporter names the image in
 * wharfd's store. LLB definitions, other frontends and exporters that write to the client are
 * refused with a message that says so.
 *
 * A buildx build is two calls that meet by the build's ref: Control.Solve (session, exporter)
 * and, beside it, the gateway's Solve (the frontend and its options) and Return (the result, or
 * the client's error). Status streams the progress of the same ref.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { SshAgents } from '../api/backend.js';
import type { BuildCacheRecord, ProgressMessage } from '../api/types.js';
import { readDockerignore } from '../build/dockerignore.js';
import { NamedContexts, type NamedContextProvider } from '../build/named-contexts.js';
import type { ContainerRoot } from '../containerfs/root.js';
import { TarWriter } from '../lib/tar-writer.js';
import { humanSize } from '../lib/units.js';
import { BuilderProgress } from './builder-progress.js';
import { FILE_SEND, sendDirectory, sendTar } from './client-exporters.js';
import { receiveDirectory, type SyncRequest } from './file-sync.js';
import { frontendOptions, type FrontendOptions } from './frontend-options.js';
import { GrpcError, Status, serverStream, unary, type Method, type ServerCall, type GrpcClient } from './grpc.js';
import { messages, type BuildkitVersion, type Platform, type ReturnRequest, type SolveRequest, type StatusResponse, type Result, type UsageRecord } from './proto.js';
import { Sessions } from './sessions.js';
import { sessionSshAgents } from './ssh-forward.js';
import { StatusFeed, timestamp, VertexHandle } from './status-feed.js';

/** What the daemon gives the controller: its classic builder and its image store. */
export interface DockerfileBuilder {
  /**
   * Builds `dockerfile` (BuildKit's syntax) over the context tar; messages as POST /build sends
   * them. `secret` asks the client for a RUN --mount=type=secret. Errors may carry `code` and
   * `command` (a failed RUN).
   */
  build(
    req: { context: Readable; dockerfile: string; options: FrontendOptions; secret: (id: string) => Promise<Buffer | null>; ssh: SshAgents; namedContexts: NamedContextProvider },
    signal: AbortSignal,
  ): AsyncIterable<ProgressMessage>;
  /** The image's config JSON. */
  imageConfig(imageId: string): Promise<Buffer>;
  /** The image's filesystem, mounted read-only, for the exporters that send it to the client. */
  openImageRoot(imageId: string): Promise<{ root: ContainerRoot; close(): Promise<void> }>;
  /** The build cache (cache mounts), as `docker system df` lists it. */
  cacheRecords(): Promise<BuildCacheRecord[]>;
  /** Removes cache records: `filters` as `key=value` (BuildKit's), the most recent within keepBytes stay. */
  pruneCache(opts: { filters: Record<string, string[]>; keepBytes?: number }): Promise<{ deleted: BuildCacheRecord[] }>;
  /** Tags the image; returns the name as the registry knows it (`docker.io/library/x:latest`). */
  tag(imageId: string, name: string): Promise<string>;
  /** `hostGatewayIp`: what `host-gateway` stands for in a build's extra hosts ('' when none). */
  readonly worker: { id: string; platform: Platform; hostGatewayIp(): string };
  readonly version: BuildkitVersion;
}

function usageRecord(r: BuildCacheRecord): UsageRecord {
  return {
    ID: r.ID,
    Mutable: true,
    InUse: r.InUse,
    Size: r.Size,
    CreatedAt: timestamp(Date.parse(r.CreatedAt)),
    ...(r.LastUsedAt ? { LastUsedAt: timestamp(Date.parse(r.LastUsedAt)) } : {}),
    UsageCount: r.UsageCount,
    Description: r.Description,
    RecordType: r.Type,
    Shared: r.Shared,
  };
}

/** BuildKit's prune filters (`until=24h`, containerd's `key==value` too) in Docker's map form. */
function pruneFilters(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list.filter((x) => x.trim() !== '')) {
    const m = /^([a-z-]+)(?:==|=)(.*)$/.exec(f.trim());
    if (!m) throw new GrpcError(Status.INVALID_ARGUMENT, `invalid filter ${JSON.stringify(f)}`);
    (out[m[1]!] ??= []).push(m[2]!);
  }
  return out;
}

const FRONTEND = 'dockerfile.v0';
const BUILD_ID_HEADER = 'buildkit-controlapi-buildid';
/** A finished build's progress stays for a client that asks for it late. */
const KEEP_FINISHED_MS = 60_000;
/** The largest Dockerfile (or Dockerfile-specific .dockerignore) read: the classic API's limit. */
const MAX_DEFINITION_BYTES = 10 << 20;

/** The gateway capabilities this frontend runner has (BuildKit's apicaps IDs). */
const FRONTEND_CAPS = ['solve.base', 'solve.inlinereturn', 'return', 'proto.refarray', 'frontend.inputs'];

interface BuildState {
  readonly feed: StatusFeed;
  control: SolveRequest | null;
  readonly controlWaiters: Array<() => void>;
  returned: ReturnRequest | null;
  readonly returnWaiters: Array<() => void>;
  /** Results of the gateway's Solve by ref id: image ids. */
  readonly refs: Map<string, string>;
  /** The SOURCE_DATE_EPOCH of the builds that made these images, by image id (the exporters date files with it). */
  readonly epochs: Map<string, number>;
  users: number;
  expiry: NodeJS.Timeout | null;
  /** Control.Solve failed: the gateway's calls waiting on it fail the same way (the client does not cancel them). */
  failed: GrpcError | null;
}

function waitFor(b: BuildState, check: () => boolean, waiters: Array<() => void>, signal: AbortSignal, what: string): Promise<void> {
  if (b.failed) return Promise.reject(b.failed);
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new GrpcError(Status.CANCELLED, `context canceled while waiting for ${what}`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    waiters.push(() => {
      signal.removeEventListener('abort', onAbort);
      if (b.failed && !check()) reject(b.failed);
      else resolve();
    });
  });
}

/** The one frontend there is, without inputs; '' is an LLB definition. */
function checkFrontend(frontend: string, inputs: Record<string, Buffer>): void {
  if (frontend === '') throw new GrpcError(Status.UNIMPLEMENTED, 'LLB definitions are not supported by wharfd: it builds Dockerfiles (the dockerfile.v0 frontend)');
  if (frontend !== FRONTEND) throw new GrpcError(Status.NOT_FOUND, `frontend ${frontend} not found`);
  if (Object.keys(inputs).length) throw new GrpcError(Status.UNIMPLEMENTED, 'frontend inputs (named contexts) are not supported by wharfd');
}

/** BuildKit's wording for a RUN that failed; other errors keep their message. */
function solveError(err: unknown): GrpcError {
  if (err instanceof GrpcError) return err;
  const e = err as { message?: string; code?: unknown; command?: unknown };
  if (typeof e.code === 'number' && typeof e.command === 'string') {
    return new GrpcError(Status.UNKNOWN, `process "${e.command}" did not complete successfully: exit code: ${e.code}`);
  }
  return new GrpcError(Status.UNKNOWN, e.message ?? String(err));
}

export class BuildkitController {
  readonly sessions = new Sessions();
  private readonly builds = new Map<string, BuildState>();

  constructor(private readonly builder: DockerfileBuilder) {}

  /** The gRPC methods, by path. */
  methods(): Map<string, Method> {
    const control = '/moby.buildkit.v1.Control/';
    const gateway = '/moby.buildkit.v1.frontend.LLBBridge/';
    return new Map<string, Method>([
      [`${control}ListWorkers`, unary(messages.ListWorkersRequest.decode, messages.ListWorkersResponse.encode, () => Promise.resolve({ record: [this.workerRecord()] }))],
      [`${control}Info`, unary(messages.InfoRequest.decode, messages.InfoResponse.encode, () => Promise.resolve({ buildkitVersion: this.builder.version }))],
      // The classic builder's cache is its images; BuildKit's cache records here are the
      // directories of RUN --mount=type=cache, as POST /build/prune and system df know them.
      [`${control}DiskUsage`, unary(messages.DiskUsageRequest.decode, messages.DiskUsageResponse.encode, async () => ({ record: (await this.builder.cacheRecords()).map(usageRecord) }))],
      [
        `${control}Prune`,
        serverStream(messages.PruneRequest.decode, async (req, call) => {
          const { deleted } = await this.builder.pruneCache({
            filters: { ...pruneFilters(req.filter), ...(req.keepDuration > 0 ? { until: [`${Math.floor(req.keepDuration / 1e9)}s`] } : {}) },
            ...(req.keepBytes > 0 ? { keepBytes: req.keepBytes } : {}),
          });
          for (const r of deleted) await call.send(messages.UsageRecord.encode(usageRecord(r)));
        }),
      ],
      [`${control}Solve`, unary(messages.SolveRequest.decode, messages.SolveResponse.encode, (req, call) => this.solve(req, call))],
      [`${control}Status`, serverStream(messages.StatusRequest.decode, (req, call) => this.status(req.Ref, call))],
      [`${gateway}Ping`, unary(messages.PingRequest.decode, messages.PongResponse.encode, () => Promise.resolve(this.pong()))],
      [`${gateway}Solve`, unary(messages.GatewaySolveRequest.decode, messages.GatewaySolveResponse.encode, (req, call) => this.gatewaySolve(req, call))],
      [`${gateway}Return`, unary(messages.ReturnRequest.decode, messages.ReturnResponse.encode, (req, call) => this.gatewayReturn(req, call))],
    ]);
  }

  private workerRecord() {
    const w = this.builder.worker;
    const hostGateway = w.hostGatewayIp();
    const labels: Record<string, string> = hostGateway ? { 'org.mobyproject.buildkit.worker.moby.host-gateway-ip': hostGateway } : {};
    return {
      ID: w.id,
      // Only the label moby's builder gives its worker on an engine without the containerd image
      // store: buildx reads a snapshotter label as that store and would then let through what
      // this builder cannot do (cache export, the oci and docker exporters, several platforms)
      // instead of refusing it with its own message, as it does for Docker.
      Labels: labels,
      platforms: [w.platform],
      BuildkitVersion: this.builder.version,
    };
  }

  private pong() {
    return { FrontendAPICaps: FRONTEND_CAPS.map((ID) => ({ ID, Enabled: true })), LLBCaps: [], Workers: [this.workerRecord()] };
  }

  /** The state of build `ref`, held while a call uses it and for a while after the last one. */
  private async using<T>(ref: string, fn: (b: BuildState) => Promise<T>): Promise<T> {
    if (!ref) throw new GrpcError(Status.INVALID_ARGUMENT, 'no build ref');
    let b = this.builds.get(ref);
    if (!b) {
      b = { feed: new StatusFeed(), control: null, controlWaiters: [], returned: null, returnWaiters: [], refs: new Map(), epochs: new Map(), users: 0, expiry: null, failed: null };
      this.builds.set(ref, b);
    }
    const state = b;
    if (state.expiry) clearTimeout(state.expiry);
    state.expiry = null;
    state.users++;
    try {
      return await fn(state);
    } finally {
      if (--state.users === 0) {
        state.expiry = setTimeout(() => {
          if (state.users === 0 && this.builds.get(ref) === state) this.builds.delete(ref);
        }, KEEP_FINISHED_MS);
        state.expiry.unref();
      }
    }
  }

  private buildIdOf(call: ServerCall): string {
    const id = call.metadata[BUILD_ID_HEADER];
    const ref = Array.isArray(id) ? id[0] : id;
    if (!ref) throw new GrpcError(Status.INVALID_ARGUMENT, `no ${BUILD_ID_HEADER} in the request`);
    return ref;
  }

  private checkExporter(req: SolveRequest): void {
    if (req.Exporter === '' || req.Exporter === 'moby' || req.Exporter === 'local' || req.Exporter === 'tar') return;
    if (req.Exporter === 'image' && !/^(1|true)$/i.test(req.ExporterAttrs.push ?? '')) return;
    throw new GrpcError(Status.UNIMPLEMENTED, `exporter "${req.Exporter}"${req.Exporter === 'image' ? ' with push' : ''} is not supported by wharfd: its builder stores images in the daemon (the moby exporter) or sends their files (local, tar)`);
  }

  private solve(req: SolveRequest, call: ServerCall) {
    return this.using(req.Ref, async (b) => {
      try {
        this.checkExporter(req);
        // Without a frontend the gateway's Solve names one (buildx); its check is there.
        if (req.Frontend) checkFrontend(req.Frontend, req.FrontendInputs);
        b.control = req;
        for (const w of b.controlWaiters.splice(0)) w();
        let imageId: string;
        if (req.Frontend) {
          imageId = await this.runFrontend(b, req.FrontendAttrs, call.signal);
        } else {
          await waitFor(b, () => b.returned !== null, b.returnWaiters, call.signal, 'the build result');
          const ret = b.returned!;
          if (ret.error && ret.error.code !== Status.OK) throw new GrpcError(ret.error.code, ret.error.message);
          imageId = this.imageOf(b, ret.result);
        }
        return { ExporterResponse: await this.export(b, req, imageId, call.signal) };
      } catch (err) {
        b.failed = solveError(err);
        for (const w of [...b.controlWaiters.splice(0), ...b.returnWaiters.splice(0)]) w();
        throw b.failed;
      } finally {
        b.feed.close();
      }
    });
  }

  private imageOf(b: BuildState, result: Result | undefined): string {
    const id = result?.ref?.id || result?.refDeprecated || '';
    if (!id && result?.refs) throw new GrpcError(Status.UNIMPLEMENTED, 'a result of several platforms cannot be exported by wharfd');
    const image = b.refs.get(id);
    if (!image) throw new GrpcError(Status.INVALID_ARGUMENT, id ? `unknown result ref ${id}` : 'the build returned no image');
    return image;
  }

  /** The moby exporter: names the image and reports it as BuildKit's does; local and tar send its files. */
  private async export(b: BuildState, req: SolveRequest, imageId: string, signal: AbortSignal): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    if (req.Exporter === '') return out;
    if (req.Exporter === 'local' || req.Exporter === 'tar') {
      await this.exportToClient(b, req, imageId, signal);
      return out;
    }
    const v = new VertexHandle(b.feed, 'exporting to image');
    await v.start();
    await v.status({ id: 'exporting layers', done: true });
    await v.status({ id: `writing image ${imageId}`, done: true });
    const names: string[] = [];
    for (const name of (req.ExporterAttrs.name ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '')) {
      const full = await this.builder.tag(imageId, name);
      names.push(full);
      await v.status({ id: `naming to ${full}`, done: true });
    }
    await v.complete();
    out['containerimage.config.digest'] = imageId;
    out['containerimage.digest'] = imageId;
    if (names.length) out['image.name'] = names.join(',');
    return out;
  }

  private async exportToClient(b: BuildState, req: SolveRequest, imageId: string, signal: AbortSignal): Promise<void> {
    const { client, info } = await this.sessions.get(req.Session, signal);
    if (!info.methods.includes(FILE_SEND)) throw new GrpcError(Status.FAILED_PRECONDITION, `method ${FILE_SEND} not supported by the client`);
    const v = new VertexHandle(b.feed, req.Exporter === 'tar' ? 'exporting to client tarball' : 'exporting to client directory');
    await v.start();
    const image = await this.builder.openImageRoot(imageId);
    try {
      const epoch = b.epochs.get(imageId);
      const bytes = req.Exporter === 'tar' ? await sendTar(client, image.root, signal, epoch) : await sendDirectory(client, image.root, signal, epoch);
      await v.status({ id: `${req.Exporter === 'tar' ? 'sending tarball' : 'copying files'} ${humanSize(bytes)}`, done: true });
      await v.complete();
    } catch (err) {
      await v.complete({ error: (err as Error).message });
      throw err;
    } finally {
      await image.close();
    }
  }

  private status(ref: string, call: ServerCall) {
    return this.using(ref, (b) => b.feed.subscribe((r: StatusResponse) => call.send(messages.StatusResponse.encode(r)), call.signal));
  }

  private gatewaySolve(req: { Definition: Buffer; Frontend: string; FrontendOpt: Record<string, string>; FrontendInputs: Record<string, Buffer> }, call: ServerCall) {
    return this.using(this.buildIdOf(call), async (b) => {
      checkFrontend(req.Frontend, req.FrontendInputs);
      const imageId = await this.runFrontend(b, req.FrontendOpt, call.signal);
      const id = randomUUID();
      b.refs.set(id, imageId);
      return { ref: '', result: { ref: { id }, metadata: { 'containerimage.config': await this.builder.imageConfig(imageId) } } };
    });
  }

  private gatewayReturn(req: ReturnRequest, call: ServerCall) {
    return this.using(this.buildIdOf(call), (b) => {
      b.returned = req;
      for (const w of b.returnWaiters.splice(0)) w();
      return Promise.resolve({});
    });
  }

  /** The Dockerfile frontend: fetches the definition and the context from the session and builds. */
  private async runFrontend(b: BuildState, attrs: Record<string, string>, signal: AbortSignal): Promise<string> {
    await waitFor(b, () => b.control !== null, b.controlWaiters, signal, 'the solve request');
    const opts = frontendOptions(attrs, b.control!.Entitlements ?? []);
    const { client, info } = await this.sessions.get(b.control!.Session, signal);
    const feed = b.feed;

    const definition = new VertexHandle(feed, `[internal] load build definition from ${opts.filename}`);
    await definition.start();
    const defFiles = await this.smallFiles(client, 'dockerfile', [opts.filename, `${opts.filename}.dockerignore`], signal);
    const dockerfile = defFiles.get(opts.filename);
    if (dockerfile === undefined) {
      const msg = `failed to read dockerfile: open ${opts.filename}: no such file or directory`;
      await definition.complete({ error: msg });
      throw new GrpcError(Status.UNKNOWN, msg);
    }
    await definition.status({ id: `transferring dockerfile: ${humanSize(dockerfile.length)}`, done: true });
    await definition.complete();

    const ignore = new VertexHandle(feed, '[internal] load .dockerignore');
    await ignore.start();
    let ignoreText = defFiles.get(`${opts.filename}.dockerignore`);
    if (ignoreText === undefined) ignoreText = (await this.smallFiles(client, 'context', ['.dockerignore'], signal)).get('.dockerignore');
    await ignore.status({ id: `transferring context: ${humanSize(ignoreText?.length ?? 0)}`, done: true });
    await ignore.complete();
    const excludes = ignoreText ? readDockerignore(ignoreText.toString('utf8')) : [];

    const stop = new AbortController();
    const { tar, done } = await this.receiveAsTar(client, feed, '[internal] load build context', { dirName: 'context', excludePatterns: excludes }, AbortSignal.any([signal, stop.signal]));
    // Set when the transfer fails on its own (not stopped for a failed build): the build's error is then this one's echo.
    let transferError: unknown = null;
    const transfer = done.then((err) => {
      if (err !== null && !stop.signal.aborted) transferError = err;
    });
    const progress = new BuilderProgress(feed);
    let imageId = '';
    let epoch: number | undefined;
    try {
      const secret = (id: string) => this.secret(client, info.methods, id, signal);
      const named = new NamedContexts(attrs);
      const namedContexts: NamedContextProvider = {
        lookup: (name, platform) => named.lookup(name, platform),
        openLocal: (key, dirName, sig) => this.localContext(client, feed, key, dirName, sig),
      };
      const ssh = sessionSshAgents(client, info.methods, signal);
      for await (const m of this.builder.build({ context: tar, dockerfile: dockerfile.toString('utf8'), options: opts, secret, ssh, namedContexts }, signal)) {
        const aux = m.aux as { ID?: unknown } | undefined;
        if (typeof aux?.ID === 'string') imageId = aux.ID;
        if (m.epoch !== undefined) {
          epoch = m.epoch;
          continue;
        }
        await progress.message(m);
      }
      await transfer;
      await progress.finish();
    } catch (err) {
      const e = solveError(transferError ?? err);
      stop.abort();
      await transfer;
      await progress.fail(e.message);
      throw e;
    }
    if (transferError) throw solveError(transferError);
    if (!imageId) throw new GrpcError(Status.UNKNOWN, 'the build produced no image');
    if (epoch !== undefined) b.epochs.set(imageId, epoch);
    return imageId;
  }

  /**
   * A directory the client shares as a named local context, as a tar: its .dockerignore read
   * first and its patterns left out, as BuildKit's frontend loads it (`[context <key>] …`).
   */
  private async localContext(client: GrpcClient, feed: StatusFeed, key: string, dirName: string, signal: AbortSignal): Promise<Readable> {
    const ignore = new VertexHandle(feed, `[context ${key}] load .dockerignore`);
    await ignore.start();
    const ignoreText = (await this.smallFiles(client, dirName, ['.dockerignore'], signal)).get('.dockerignore');
    await ignore.status({ id: `transferring ${key}: ${humanSize(ignoreText?.length ?? 0)}`, done: true });
    await ignore.complete();
    const excludes = ignoreText ? readDockerignore(ignoreText.toString('utf8')) : [];
    return (await this.receiveAsTar(client, feed, `[context ${key}] load from client`, { dirName, excludePatterns: excludes }, signal)).tar;
  }

  /**
   * A directory the client shares, received into a tar while the vertex `name` shows its
   * transfer. A failed transfer ends the tar with its error; `done` resolves with that error, or
   * null once every entry is in the tar.
   */
  private async receiveAsTar(client: GrpcClient, feed: StatusFeed, name: string, req: SyncRequest, signal: AbortSignal): Promise<{ tar: Readable; done: Promise<unknown> }> {
    const vertex = new VertexHandle(feed, name);
    await vertex.start();
    const tar = new TarWriter();
    // Whoever reads the tar gets its error there; it may not be reading yet when the transfer fails.
    tar.on('error', () => {});
    const done = receiveDirectory(client, req, (h, body) => tar.add(h, body), signal).then(
      async (bytes) => {
        tar.finish();
        await vertex.status({ id: `transferring ${req.dirName}: ${humanSize(bytes)}`, done: true });
        await vertex.complete();
        return null;
      },
      async (err: unknown) => {
        tar.destroy(err as Error);
        await vertex.complete({ error: (err as Error).message });
        return err;
      },
    );
    return { tar, done };
  }

  /** The client's secret `id` (`docker build --secret id=…`), or null when it has none. */
  private async secret(client: GrpcClient, methods: string[], id: string, signal: AbortSignal): Promise<Buffer | null> {
    const path = '/moby.buildkit.secrets.v1.Secrets/GetSecret';
    if (!methods.includes(path)) return null;
    try {
      return messages.GetSecretResponse.decode(await client.unary(path, messages.GetSecretRequest.encode({ ID: id, annotations: {} }), {}, signal)).data;
    } catch (err) {
      if (err instanceof GrpcError && (err.code === Status.NOT_FOUND || err.code === Status.UNIMPLEMENTED)) return null;
      throw err;
    }
  }

  /** Small files (a Dockerfile, a .dockerignore) of a shared directory, by path. */
  private async smallFiles(client: GrpcClient, dirName: string, include: string[], signal: AbortSignal): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    let total = 0;
    await receiveDirectory(
      client,
      { dirName, includePatterns: include, followPaths: include },
      async (h, body) => {
        if (h.type !== 'file' || !body) return;
        const parts: Buffer[] = [];
        for await (const c of body) {
          total += c.length;
          if (total > MAX_DEFINITION_BYTES) throw new GrpcError(Status.INVALID_ARGUMENT, `${h.name} is too large`);
          parts.push(c);
        }
        files.set(h.name, Buffer.concat(parts));
      },
      signal,
    );
    return files;
  }
}
