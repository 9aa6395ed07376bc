/**
 * What the API routes need from the engine. `api/` calls only these interfaces; `daemon/`
 * implements them (as Docker's routers call a Backend). Errors are thrown as EngineError
 * (lib/errors.ts) and mapped to status codes by api/errors.ts. Interfaces and the options they
 * take only: the wire types (request and response bodies) are in api/types.ts.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { NamedContextProvider } from '../build/named-contexts.js';
import type {
  BuildCacheRecord,
  ContainerConfig,
  ContainerCreateBody,
  ContainerPathStat,
  ContainerStatsResponse,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerTop,
  DiskUsage,
  DiskUsageType,
  EventMessage,
  ExecCreateRequest,
  ExecInspect,
  FilesystemChange,
  HostConfig,
  Filters,
  ImageSearchResult,
  DistributionInspect,
  OciPlatform,
  PluginPrivilege,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageSummary,
  EndpointSettings,
  NetworkCreateRequest,
  NetworkResource,
  ProgressMessage,
  PruneReport,
  SystemInfo,
  VersionInfo,
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
  VolumePruneReport,
  WaitResponse,
} from './types.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitHandle {
  /** Settles when the condition is met. The waiter is registered before the handle is returned. */
  result: Promise<WaitResponse>;
  /** The client went away: drops the waiter (the result then never settles). */
  cancel(): void;
}

export interface AttachOptions {
  stream: boolean;
  logs: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
}

/** Streams the route hands to an attach session once the connection is hijacked. */
export interface AttachIO {
  /** Client's input; null when stdin was not requested. */
  stdin: Readable | null;
  /** Where container stdout goes (already demultiplexing-aware: the route frames it). */
  stdout: Writable;
  stderr: Writable;
}

export interface AttachSession {
  /** Whether the container has a TTY: decides raw versus stdcopy framing. */
  tty: boolean;
  /** Runs the session; resolves when the container's output ends or the client detaches. */
  run(io: AttachIO): Promise<void>;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional) or undefined. */
  since?: number;
  until?: number;
  timestamps: boolean;
  /** Number of lines from the end, or undefined for all. */
  tail?: number;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The line's bytes, including its trailing newline when it had one. */
  data: Buffer;
  /** RFC3339Nano timestamp as recorded. */
  time: string;
}

export interface LogsResult {
  tty: boolean;
  /** The attributes `details` puts before each line (log-opt labels/env), when the driver has any. */
  attributes?: Record<string, string>;
  entries: AsyncIterable<LogEntry>;
  /** Stops a follow stream (client went away). */
  close(): void;
}

export interface ContainerListOptions {
  all: boolean;
  limit?: number;
  size: boolean;
  filters: Filters;
}

export interface ContainerCreateOptions {
  /**
   * Read-only binds are read-only on their top mount only, as every one was before API 1.44 (the
   * route sets it for older clients); from 1.44 they are recursively so.
   */
  readOnlyNonRecursive?: boolean;
  /** `K=v` the process gets beyond its config, held in memory only (a build step's secrets). */
  processEnv?: string[];
}

export interface ContainerBackend {
  create(name: string | undefined, body: ContainerCreateBody, platform?: string, opts?: ContainerCreateOptions): Promise<ContainerCreateResponse>;
  start(ref: string): Promise<void>;
  stop(ref: string, opts: { signal?: string; timeout?: number }): Promise<void>;
  restart(ref: string, opts: { signal?: string; timeout?: number }): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  remove(ref: string, opts: { force: boolean; volumes: boolean; link: boolean }): Promise<void>;
  rename(ref: string, newName: string): Promise<void>;
  inspect(ref: string, opts: { size: boolean }): Promise<ContainerInspect>;
  list(opts: ContainerListOptions): Promise<ContainerSummary[]>;
  wait(ref: string, condition: WaitCondition): Promise<WaitHandle>;
  attach(ref: string, opts: AttachOptions): Promise<AttachSession>;
  logs(ref: string, opts: LogsOptions): Promise<LogsResult>;
  top(ref: string, psArgs?: string): Promise<ContainerTop>;
  resize(ref: string, height: number, width: number): Promise<void>;
  prune(filters: Filters): Promise<PruneReport>;
  /** GET /containers/{id}/stats. */
  stats(ref: string, opts: StatsOptions): Promise<StatsStream>;
}

export interface ImageImportOptions {
  repo?: string;
  tag?: string;
  changes: string[];
  message?: string;
  platform?: string;
  /** Ends a URL import's download when the client goes. */
  signal?: AbortSignal;
}

/** Credentials from the X-Registry-Auth header (base64url JSON), as Docker's AuthConfig spells them. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface ImagePullOptions {
  /** `os[/arch[/variant]]` from ?platform=, or undefined. */
  platform?: string;
  /** X-Meta-* request headers, passed to the registry as Docker does. */
  metaHeaders?: Record<string, string[]>;
  /** Aborted when the client goes away: downloads stop and nothing is registered. */
  signal?: AbortSignal;
}

export interface ImageBackend {
  /**
   * POST /images/create?fromImage= : pulls `ref` (tag or digest in `tag` when given separately).
   * Throwing before the first message gives an HTTP error status; later, an in-stream error.
   */
  pull(ref: string, tag: string | undefined, opts: ImagePullOptions, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage>;
  /**
   * POST /images/{name}/push : pushes `name` (all its tags when neither `name` nor `tag` has one).
   */
  push(name: string, tag: string | undefined, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage>;
  /** POST /auth : checks credentials against the registry. Throws an Unauthorized EngineError (401) for bad ones. */
  login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }>;
  /** POST /images/create?fromSrc=- : a rootfs tarball (optionally compressed) becomes an image. */
  /** `src`: the request body (fromSrc=-) or the URL to fetch the tarball from. */
  importImage(src: Readable | { url: string }, opts: ImageImportOptions): AsyncIterable<ProgressMessage>;
  /** POST /images/load : a docker-archive tarball. Yields `Loaded image: …` stream messages. */
  /** `platform` (API 1.48): only the archive's images for it are loaded. */
  load(src: Readable, opts: { quiet: boolean; signal?: AbortSignal; platform?: OciPlatform }): AsyncIterable<ProgressMessage>;
  /** GET /images/get : a docker-archive tarball of the named images. */
  /** `platform` (API 1.48): an image for another platform fails the save, before any byte. */
  save(names: string[], out: Writable, platform?: OciPlatform): Promise<void>;
  list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]>;
  /** `platform` (API 1.49; history 1.48): NotFound when the image is for another platform. */
  inspect(ref: string, platform?: OciPlatform): Promise<ImageInspect>;
  history(ref: string, platform?: OciPlatform): Promise<ImageHistoryItem[]>;
  remove(ref: string, opts: { force: boolean; noprune: boolean }): Promise<ImageDeleteItem[]>;
  tag(ref: string, repo: string, tag?: string): Promise<void>;
  prune(filters: Filters): Promise<PruneReport>;
  /** GET /distribution/{name}/json : the registry's descriptor of `ref` and its platforms, without a pull. */
  distributionInspect(ref: string, auth: RegistryAuth | undefined): Promise<DistributionInspect>;
  /** GET /images/search : the v1 search of the index the term names (Docker Hub by default). */
  search(term: string, opts: { limit?: number; filters: Filters; auth?: RegistryAuth; signal?: AbortSignal }): Promise<ImageSearchResult[]>;
  /** GET /plugins/privileges : what the plugin `remote` asks for, read from its registry ([] when it cannot be fetched). */
  pluginPrivileges(remote: string, auth: RegistryAuth | undefined): Promise<PluginPrivilege[] | null>;
}

export interface SystemBackend {
  version(): Promise<VersionInfo>;
  /** GET /info, shaped for the request's API version. */
  info(apiVersion: string): Promise<SystemInfo>;
}

/** The /networks endpoints. References are names, IDs or unique ID prefixes. */
export interface NetworkBackend {
  /** `detailed` (API < 1.28) fills each network's `Containers`, as inspect does. */
  list(filters: Filters, opts?: { detailed?: boolean }): Promise<NetworkResource[]>;
  inspect(ref: string, opts: { verbose: boolean; scope?: string }): Promise<NetworkResource>;
  create(body: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  remove(ref: string): Promise<void>;
  connect(ref: string, container: string, endpointConfig?: EndpointSettings): Promise<void>;
  disconnect(ref: string, container: string, force: boolean): Promise<void>;
  prune(filters: Filters): Promise<{ NetworksDeleted: string[] }>;
}

/** The /volumes endpoints. */
export interface VolumeBackend {
  list(filters: Filters): Promise<VolumeListResponse>;
  /** Returns the existing volume for a name already taken with the same driver. */
  create(body: VolumeCreateRequest): Promise<Volume>;
  inspect(name: string): Promise<Volume>;
  /** Conflict `remove <name>: volume is in use - [<ids>]` while containers use it; `force` ignores a missing volume. */
  remove(name: string, opts: { force: boolean }): Promise<void>;
  /** Unused local volumes without driver options: anonymous ones only unless filters has `all=true`. */
  prune(filters: Filters): Promise<VolumePruneReport>;
}

export interface Backend {
  containers: ContainerBackend;
  images: ImageBackend;
  system: SystemBackend;
  networks: NetworkBackend;
  /** GET /events */
  events: EventsBackend;
  /** The /exec endpoints */
  exec: ExecBackend;
  volumes: VolumeBackend;
  /** /archive, /changes, /export and /commit */
  files: ContainerFilesBackend;
  /** /pause, /unpause and /update */
  control: ContainerControlBackend;
  /** GET /system/df */
  diskUsage: DiskUsageBackend;
  /** POST /build (the classic builder) */
  build: BuildBackend;
  /** POST /grpc and /session (BuildKit's API, run by the classic builder) */
  buildkit: BuildkitBackend;
}

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Pause the container while its changes are read (Docker's default). */
  pause: boolean;
  /** Dockerfile instructions (--change). */
  changes: string[];
  /** The request body: a container config the image config starts from. */
  config?: ContainerConfig;
}

/** A container's files: docker cp, diff, export, commit. */
export interface ContainerFilesBackend {
  statPath(ref: string, path: string): Promise<ContainerPathStat>;
  /** The stat and a tar of the resource; the tar must be read to the end or destroyed. */
  archivePath(ref: string, path: string): Promise<{ stat: ContainerPathStat; stream: Readable }>;
  extractToDir(ref: string, path: string, content: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void>;
  changes(ref: string): Promise<FilesystemChange[]>;
  export(ref: string): Promise<Readable>;
  commit(ref: string, opts: CommitOptions): Promise<{ Id: string }>;
}

/** docker pause, unpause, update. */
export interface ContainerControlBackend {
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  /** The body of POST /containers/{id}/update: Resources and RestartPolicy. */
  update(ref: string, body: Partial<HostConfig>): Promise<{ Warnings: string[] | null }>;
}

export interface EventsQuery {
  /** Unix nanoseconds; undefined = not given. */
  sinceNs?: bigint;
  untilNs?: bigint;
  filters: Filters;
}

export interface EventSubscription {
  /** Kept events within since/until that match, oldest first. */
  buffered: EventMessage[];
  /** Stops the delivery of new events. */
  close(): void;
}

export interface EventsBackend {
  /** Replays kept events and calls `onEvent` for each new matching one until closed. */
  events(query: EventsQuery, onEvent: (event: EventMessage) => void): EventSubscription;
}

export interface ExecStartOptions {
  detach: boolean;
  /** The start request's Tty: raw output (true) or stdcopy framing, whatever the exec was created with (Docker). */
  tty: boolean;
  /** [height, width] for a TTY, from the start request (or, unset, the create request). */
  consoleSize?: [number, number];
}

/** A started-on-run exec session on a hijacked connection. */
export interface ExecSession {
  /** Raw stream (true) or stdcopy framing. */
  tty: boolean;
  /** Whether the client's input is relayed; otherwise the route drains it. */
  stdin: boolean;
  /**
   * Runs the process and relays its stdio; resolves when its output ends (its exit code is
   * recorded by then), the client detaches or goes away. Errors are Docker's texts for the
   * route to write into the stream.
   */
  run(io: AttachIO): Promise<void>;
}

export interface ExecBackend {
  /** Conflict `container <id> is not running` / `Container <ref> is paused, unpause the container before exec`. */
  create(container: string, req: ExecCreateRequest): Promise<{ Id: string }>;
  /**
   * Checks the exec and its container (HTTP errors). Detached: starts it and resolves with
   * undefined once it runs. Otherwise resolves with the session to run on the hijacked connection.
   */
  start(id: string, opts: ExecStartOptions): Promise<ExecSession | undefined>;
  resize(id: string, height: number, width: number): Promise<void>;
  inspect(id: string): Promise<ExecInspect>;
  /** IDs of the container's exec instances that have not ended (Docker's ExecIDs). */
  idsFor(containerId: string): string[];
}

export interface StatsOptions {
  /** One object per second until the client goes away (default). */
  stream: boolean;
  /** With stream=false: answer at once, without waiting for a second sample for precpu_stats. */
  oneShot: boolean;
}

export interface StatsStream {
  samples: AsyncIterable<ContainerStatsResponse>;
  /** Stops the stream (client went away). */
  close(): void;
}

/** GET /system/df; `types` null means every part. */
export interface DiskUsageBackend {
  usage(types: DiskUsageType[] | null): Promise<DiskUsage>;
}

export interface BuildOptions {
  /** Path of the Dockerfile inside the context ('' = Dockerfile). */
  dockerfile: string;
  /** The Dockerfile itself, when it does not come in the context (BuildKit sends it apart); the context is then used as sent. */
  dockerfileText?: string;
  /** The Dockerfile syntax: the classic builder's (default) or BuildKit's (here-documents, RUN --mount…). */
  dialect?: 'classic' | 'buildkit';
  /** A `RUN --mount=type=secret` secret from the client (null: it has none). */
  secret?: (id: string) => Promise<Buffer | null>;
  tags: string[];
  /** `--build-arg`; null = declared without a value. */
  buildArgs: Map<string, string | null>;
  target: string;
  noCache: boolean;
  pull: boolean;
  /** Remove intermediate containers after a successful step (Docker's default). */
  rm: boolean;
  /** Remove them always, also after a failed step. */
  forceRm: boolean;
  labels: Record<string, string>;
  networkMode: string;
  extraHosts: string[];
  quiet: boolean;
  platform: string;
  cacheFrom: string[];
  /** An http(s) URL of the context (a tar, possibly compressed, or a Dockerfile); the body is then unused. */
  remote?: string;
  /** X-Registry-Config: credentials by registry, for pulling base images. */
  registryConfig?: Record<string, RegistryAuth>;
  shmSize?: number;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpuSetCpus?: string;
  cpuSetMems?: string;
  /** The RUN containers' cgroup parent (--cgroup-parent). */
  cgroupParent?: string;
  /** The RUN containers' hostname (BuildKit's `buildkitsandbox`); unset, each its own id's, as the classic builder's. */
  sandboxHostname?: string;
  /** false: a RUN on the host's network fails (BuildKit without the `network.host` entitlement); the classic API leaves it unset. */
  networkHostAllowed?: boolean;
  /** BuildKit's BUILDKIT_CACHE_MOUNT_NS: cache mounts of another namespace are other caches. */
  cacheMountNamespace?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  /** The client's ssh agents (`--ssh`) for `RUN --mount=type=ssh`, through BuildKit's API only. */
  ssh?: SshAgents;
  /** BuildKit's named contexts (`--build-context`), through its API only. */
  namedContexts?: NamedContextProvider;
}

/** A BuildKit client's ssh agents, each by its id (`default` unless named). */
export interface SshAgents {
  /** null when the client forwards agent `id`; else why not, in BuildKit's words. */
  check(id: string): Promise<string | null>;
  /** Carries one connection to the agent's socket in a step's container to the client's agent. */
  connect(id: string, conn: Duplex): void;
}

/** A build error the stream reports with a code (a failing RUN's exit status). */
export interface BuildStepError extends Error {
  code?: number;
  /** The failed RUN's command line, as BuildKit's message names it. */
  command?: string;
}

/** BuildKit's API: POST /grpc and POST /session, each on the connection they upgrade (h2c). */
export interface BuildkitBackend {
  /** Serves BuildKit's control API on the connection; `head` is what was read after the request. */
  serveControl(socket: Duplex, head: Buffer): void;
  /**
   * Holds the session id `id` for a connection about to be upgraded: false when a session of that
   * id is connected or held already. attachSession or releaseSession ends the hold.
   */
  claimSession(id: string): boolean;
  releaseSession(id: string): void;
  /** Takes a client's session connection, on which the client serves its files. */
  attachSession(session: { id: string; name: string; methods: string[] }, socket: Duplex, head: Buffer): void;
}

export interface BuildBackend {
  /**
   * Builds from `context` (a tar, possibly compressed, or a Dockerfile alone). Messages are
   * Docker's: `stream` lines, `aux` {ID}, `status` of pulls. Aborting `signal` (the client went
   * away) stops the build and removes what it made. Errors are thrown (with `code` for RUN).
   */
  build(context: Readable, opts: BuildOptions, signal: AbortSignal): AsyncIterable<ProgressMessage>;
  /** The build cache: the directories of RUN --mount=type=cache (the classic cache is images). */
  cacheRecords(): Promise<BuildCacheRecord[]>;
  /** POST /build/prune: `until`/`id`/`type` filters; keeps the most recent within `keepBytes`. */
  pruneCache(opts: { filters: Record<string, string[]>; keepBytes?: number }): Promise<{ deleted: BuildCacheRecord[]; reclaimed: number }>;
}
