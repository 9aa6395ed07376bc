/**
 * Docker Engine API shapes, spelled as Docker spells them at the API boundary.
 * Only the fields Wharf reads or writes are typed; unknown fields pass through untouched.
 */

export type Labels = Record<string, string>;
export type PortSet = Record<string, Record<string, never>>;

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** Container (and image) Config. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: PortSet | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: PortSet | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  /** Deprecated in API 1.44: moved to the main network's endpoint at create. */
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Labels | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export interface RestartPolicy {
  Name?: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs' | 'image' | 'npipe' | 'cluster';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    /** API 1.42: make a missing source directory (`bind-create-src`). */
    CreateMountpoint?: boolean;
    /** API 1.44: read-only on the top mount only (`bind-recursive=writable`). */
    ReadOnlyNonRecursive?: boolean;
    /** API 1.44: recursively read-only or fail (`bind-recursive=readonly`). */
    ReadOnlyForceRecursive?: boolean;
  };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Labels; DriverConfig?: { Name?: string; Options?: Record<string, string> }; Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  /** API 1.48: `type=image`, the part of the image to mount. */
  ImageOptions?: { Subpath?: string };
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface LogConfig {
  Type?: string;
  Config?: Record<string, string>;
}

/** A block device's throughput limit (bytes or operations per second). */
export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

export interface HostConfig {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: MountSpec[] | null;
  ConsoleSize?: [number, number] | null;
  Annotations?: Record<string, string> | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: '' | 'private' | 'host';
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string> | null;
  Tmpfs?: Record<string, string> | null;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  Isolation?: string;
  // Resources
  CpuShares?: number;
  Memory?: number;
  NanoCpus?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: Array<{ Path: string; Weight: number }> | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
  DeviceCgroupRules?: string[] | null;
  /** Devices asked of a device driver (`--gpus`); this engine has none. */
  DeviceRequests?: Array<{ Driver?: string; Count?: number; DeviceIDs?: string[] | null; Capabilities?: string[][] | null; Options?: Record<string, string> | null }> | null;
  KernelMemory?: number;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  CpuCount?: number;
  CpuPercent?: number;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
  Init?: boolean | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DriverOpts?: Record<string, string> | null;
  /** API 1.48: the endpoint with the highest gives the container its default route. */
  GwPriority?: number;
  DNSNames?: string[] | null;
}

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettings> | null;
}

/** Body of POST /containers/create. */
export interface ContainerCreateBody extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[];
}

export interface ContainerStateJSON {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: unknown;
}

export interface MountPoint {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  Ports: Record<string, PortBinding[] | null>;
  HairpinMode?: boolean;
  LinkLocalIPv6Address?: string;
  LinkLocalIPv6PrefixLen?: number;
  SecondaryIPAddresses?: unknown;
  SecondaryIPv6Addresses?: unknown;
  EndpointID?: string;
  Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  MacAddress?: string;
  Networks: Record<string, EndpointSettings>;
}

/** GET /containers/{id}/json */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerStateJSON;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** An item of GET /containers/json */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: PortSummary[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Labels;
  State: string;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
}

export interface WaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

export interface ContainerTop {
  Titles: string[];
  Processes: string[][];
}

export interface PruneReport {
  ContainersDeleted?: string[] | null;
  ImagesDeleted?: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

/** Image config file (the JSON whose sha256 is the image ID). */
export interface ImageConfigFile {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  comment?: string;
  config?: ContainerConfig;
  container?: string;
  container_config?: ContainerConfig;
  docker_version?: string;
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }>;
}

/** GET /images/json item */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Labels;
  Containers: number;
}

/** GET /images/{name}/json */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** API < 1.45 only (removed in 1.45; docker-compose v1 reads ContainerConfig.Volumes). */
  Container?: string;
  ContainerConfig?: ContainerConfig;
}

export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One message of a JSON progress stream (pull, import, load). */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message: string };
  aux?: unknown;
  /**
   * wharf's own, in the BuildKit dialect only (consumed by the BuildKit API, never sent to a
   * /build client): the message starts a step, shown as the BuildKit step of this name, or as
   * none when null (a metadata instruction, a FROM of another stage).
   */
  vertex?: string | null;
  /** wharf's own, in the BuildKit dialect only: a step of BuildKit's that is done as it is told (`[internal] load metadata for …`). */
  doneVertex?: string;
  /** wharf's own, in the BuildKit dialect only: the build's SOURCE_DATE_EPOCH (seconds), for the exporters that send files. */
  epoch?: number;
}

export interface VersionInfo {
  Platform: { Name: string };
  Components: Array<{ Name: string; Version: string; Details?: Record<string, string> }>;
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
  Experimental?: boolean;
}

/** GET /info (the fields Wharf fills; Docker's clients tolerate the rest missing). */
export type SystemInfo = Record<string, unknown> & {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DockerRootDir: string;
  ServerVersion: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  KernelVersion: string;
  CgroupDriver: string;
  CgroupVersion: string;
  DefaultRuntime: string;
  Runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
  LiveRestoreEnabled: boolean;
};

export type Filters = Record<string, string[]>;

/** One entry of GET /plugins/privileges. */
export interface PluginPrivilege {
  Name: string;
  Description: string;
  Value: string[];
}

/** One entry of GET /images/search. */
export interface ImageSearchResult {
  star_count: number;
  is_official: boolean;
  name: string;
  /** Deprecated by Docker and always false. */
  is_automated: boolean;
  description: string;
}

/** An OCI platform as moby writes it (ocispec.Platform). */
export interface OciPlatform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/** GET /distribution/{name}/json */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  /** null when the registry's manifest names none (Go's nil slice). */
  Platforms: OciPlatform[] | null;
}

export interface NetworkIpamConfig {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** GET /networks/{id} (Containers filled for inspect, {} in lists). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: NetworkIpamConfig[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Labels;
}

/** POST /networks/create body. */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: NetworkIpamConfig[] | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Labels | null;
}

/** A volume as GET /volumes/{name} returns it (Docker's volume.Volume, field order kept). */
export interface Volume {
  CreatedAt?: string;
  Driver: string;
  Labels: Labels | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: string;
  Status?: Record<string, unknown>;
  UsageData?: { RefCount: number; Size: number } | null;
}

/** POST /volumes/create body. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Labels | null;
}

export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[] | null;
}

export interface VolumePruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** POST /containers/{id}/exec body. */
export interface ExecCreateRequest {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStderr?: boolean;
  AttachStdout?: boolean;
  /** Docker accepts and ignores it (the client acts on it). */
  Detach?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[] | null;
}

/** POST /exec/{id}/start body. */
export interface ExecStartRequest {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** GET /exec/{id}/json, fields in Docker's order. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  /** null until the process has exited. */
  ExitCode: number | null;
  ProcessConfig: {
    tty: boolean;
    entrypoint: string;
    arguments: string[];
    privileged: boolean;
    user?: string;
  };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  /** The detach keys as bytes, base64 (Go's encoding of []byte). */
  DetachKeys: string;
  Pid: number;
}

export interface ThrottlingData {
  periods: number;
  throttled_periods: number;
  throttled_time: number;
}

export interface CPUUsage {
  total_usage: number;
  /** cgroup v1 only. */
  percpu_usage?: number[];
  usage_in_kernelmode: number;
  usage_in_usermode: number;
}

export interface CPUStats {
  cpu_usage: CPUUsage;
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: ThrottlingData;
}

export interface MemoryStats {
  usage?: number;
  /** cgroup v1 only. */
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface BlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

export interface PidsStats {
  current?: number;
  limit?: number;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface ContainerStatsResponse {
  /** RFC3339Nano; Go's zero time `0001-01-01T00:00:00Z` when there is no sample. */
  read: string;
  preread: string;
  pids_stats: PidsStats;
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CPUStats;
  precpu_stats: CPUStats;
  memory_stats: MemoryStats;
  name?: string;
  id?: string;
  networks?: Record<string, NetworkStats>;
}

export type DiskUsageType = 'container' | 'image' | 'volume' | 'build-cache';

/** Docker's build.CacheRecord: here the directories of RUN --mount=type=cache (build-cache-mounts.ts). */
export interface BuildCacheRecord {
  ID: string;
  Parents?: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** Parts not asked for with `?type=` are null, as dockerd leaves them. */
export interface DiskUsage {
  LayersSize: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: Volume[] | null;
  BuildCache: BuildCacheRecord[] | null;
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
