/**
 * What the API routes need from the engine. `api/` calls only these interfaces; `daemon/`
 * implements them (as Docker's routers call a Backend). Errors are thrown as EngineError
 * (lib/errors.ts) and mapped to status codes by api/errors.ts.
 */
import type { Readable, Writable } from 'node:stream';
import type {
  ContainerConfig,
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerTop,
  HostConfig,
  Filters,
  ImageSearchResult,
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
import type { StatsOptions, StatsStream } from './stats-types.js';
import type { ExecBackend } from './exec-types.js';
import type { DiskUsageBackend } from './disk-usage-types.js';
import type { BuildBackend } from './build-types.js';

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

export interface ContainerBackend {
  create(name: string | undefined, body: ContainerCreateBody, platform?: string): Promise<ContainerCreateResponse>;
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
  /** GET /containers/{id}/stats. Optional; the route answers 503 without it. */
  stats?(ref: string, opts: StatsOptions): Promise<StatsStream>;
}

export interface ImageImportOptions {
  repo?: string;
  tag?: string;
  changes: string[];
  message?: string;
  platform?: string;
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
   * Optional until distribution/ exists; the route answers 500 "pull is not supported yet" without it.
   * Throwing before the first message gives an HTTP error status; later, an in-stream error.
   */
  pull?(ref: string, tag: string | undefined, opts: ImagePullOptions, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage>;
  /**
   * POST /images/{name}/push : pushes `name` (all its tags when neither `name` nor `tag` has one).
   * Optional; the route answers 500 without it.
   */
  push?(name: string, tag: string | undefined, auth: RegistryAuth | undefined): AsyncIterable<ProgressMessage>;
  /** POST /auth : checks credentials against the registry. Throws an error with `unauthorized: true` for bad ones. */
  login?(auth: RegistryAuth): Promise<{ Status: string; IdentityToken: string }>;
  /** POST /images/create?fromSrc=- : a rootfs tarball (optionally compressed) becomes an image. */
  importImage(src: Readable, opts: ImageImportOptions): AsyncIterable<ProgressMessage>;
  /** POST /images/load : a docker-archive tarball. Yields `Loaded image: …` stream messages. */
  load(src: Readable, opts: { quiet: boolean; signal?: AbortSignal }): AsyncIterable<ProgressMessage>;
  /** GET /images/get : a docker-archive tarball of the named images. */
  save(names: string[], out: Writable): Promise<void>;
  list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]>;
  inspect(ref: string): Promise<ImageInspect>;
  history(ref: string): Promise<ImageHistoryItem[]>;
  remove(ref: string, opts: { force: boolean; noprune: boolean }): Promise<ImageDeleteItem[]>;
  tag(ref: string, repo: string, tag?: string): Promise<void>;
  prune(filters: Filters): Promise<PruneReport>;
  /** GET /images/search : the v1 search of the index the term names (Docker Hub by default). */
  search(term: string, opts: { limit?: number; filters: Filters; auth?: RegistryAuth; signal?: AbortSignal }): Promise<ImageSearchResult[]>;
}

export interface SystemBackend {
  version(): Promise<VersionInfo>;
  /** GET /info, shaped for the request's API version. */
  info(apiVersion: string): Promise<SystemInfo>;
}

/** The /networks endpoints. References are names, IDs or unique ID prefixes. */
export interface NetworkBackend {
  list(filters: Filters): Promise<NetworkResource[]>;
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
  /** Optional until networking is wired; the /networks routes answer 503 without it. */
  networks?: NetworkBackend;
  /** GET /events; optional, the route answers 503 without it. */
  events?: EventsBackend;
  /** The /exec endpoints; optional, the routes answer 503 without it. */
  exec?: ExecBackend;
  /** The /volumes endpoints; optional, the routes answer 503 without it. */
  volumes?: VolumeBackend;
  /** /archive, /changes, /export and /commit; optional, the routes answer 503 without it. */
  files?: ContainerFilesBackend;
  /** /pause, /unpause and /update; optional, the routes answer 503 without it. */
  control?: ContainerControlBackend;
  /** GET /system/df; optional, the route answers 503 without it. */
  diskUsage?: DiskUsageBackend;
  /** POST /build (the classic builder); optional, the route answers 503 without it. */
  build?: BuildBackend;
}

/** Docker's ContainerPathStat (X-Docker-Container-Path-Stat); `mode` holds Go's os.FileMode bits. */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Docker's FilesystemChange: Kind 0 modified, 1 added, 2 deleted. */
export interface FilesystemChange {
  Path: string;
  Kind: number;
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
  update(ref: string, body: Partial<HostConfig>): Promise<{ Warnings: string[] }>;
}

/** Docker's events.Message; status/id/from are the pre-1.22 fields Docker still fills for containers and images. */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder' | 'plugin';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  /** Nanoseconds; always an integer the double represents exactly. */
  timeNano: number;
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
