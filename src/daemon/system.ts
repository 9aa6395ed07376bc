/** GET /version and GET /info. */
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { cpus, hostname, release, totalmem, arch } from 'node:os';
import type { SystemBackend } from '../api/backend.js';
import type { SystemInfo, VersionInfo } from '../api/types.js';
import { API_VERSION, MIN_API_VERSION, versionAtLeast } from '../api/version.js';
import { registryServiceConfig } from '../distribution/service-config.js';
import type { ComponentVersions } from './component-versions.js';
import { rfc3339NanoFromNs, wallClockNs } from '../lib/wall-clock.js';

export const WHARF_VERSION = '0.1.0';

/**
 * The commit and its time, which scripts/bundle-daemon.mjs writes into the bundle (Docker's
 * `Git commit` and `Built`); empty when run unbundled or built outside a git checkout.
 */
const BUILD: { gitCommit?: string; buildTime?: string } = (globalThis as { WHARF_BUILD_INFO?: typeof BUILD }).WHARF_BUILD_INFO ?? {};

/** Go's names for Node's architectures, as Docker reports them. */
export function goArch(a = arch()): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[a] ?? a;
}

function osPrettyName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** moby's names (fsutils) for the filesystem magic numbers statfs(2) reports. */
const FS_NAMES = new Map<number, string>([
  [0xef53, 'extfs'], [0x58465342, 'xfs'], [0x9123683e, 'btrfs'], [0x01021994, 'tmpfs'], [0x2fc12fc1, 'zfs'],
  [0x794c7630, 'overlayfs'], [0x6969, 'nfs'], [0xf2f52010, 'f2fs'], [0x858458f6, 'ramfs'], [0x73717368, 'squashfs'],
  [0xf15f, 'ecryptfs'], [0x61756673, 'aufs'], [0x52654973, 'reiserfs'], [0x65735546, 'fuse'],
]);

/** The filesystem under `dir`, by moby's name for it. */
function backingFilesystem(dir: string): Promise<string> {
  return statfs(dir).then(
    (st) => FS_NAMES.get(Number(st.type)) ?? '<unknown>',
    () => '<unknown>',
  );
}

export interface SystemFacts {
  id: string;
  dataRoot: string;
  defaultRuntime: string;
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
  liveRestore: boolean;
  /** The daemon's default log driver. */
  logDriver: string;
  debug: boolean;
  /** The daemon's labels (`key=value`). */
  labels: readonly string[];
  cgroupVersion: '1' | '2';
  registry: { insecureRegistries: readonly string[]; registryMirrors: readonly string[] };
  defaultAddressPools: ReadonlyArray<{ base: string; size: number }>;
  components: ComponentVersions;
  counts(): { containers: number; running: number; paused: number; stopped: number; images: number };
}

/** A proxy setting from the daemon's environment, credentials masked as Docker masks them. */
export function proxyFromEnv(env: NodeJS.ProcessEnv, name: string): string {
  const raw = env[name.toUpperCase()] ?? env[name.toLowerCase()] ?? '';
  try {
    const u = new URL(raw);
    if (!u.username && !u.password) return raw;
    u.username = 'xxxxx';
    u.password = 'xxxxx';
    return u.href.replace(/\/$/, raw.endsWith('/') ? '/' : '');
  } catch {
    return raw;
  }
}

export class SystemService implements SystemBackend {
  /** `facts` is read at every request: a configuration reload (SIGHUP) changes it in place. */
  /** The data root's filesystem, asked once: it does not change while the daemon runs. */
  private backingFs: Promise<string> | undefined;

  constructor(private readonly facts: SystemFacts) {}

  async version(): Promise<VersionInfo> {
    const others = (await this.facts.components.all()).map((c) => ({ Name: c.name, Version: c.version, Details: { GitCommit: c.commit } }));
    return {
      Platform: { Name: 'Wharf Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: WHARF_VERSION,
          Details: {
            ApiVersion: API_VERSION,
            Arch: goArch(),
            BuildTime: BUILD.buildTime ?? '',
            Experimental: 'false',
            GitCommit: BUILD.gitCommit ?? '',
            GoVersion: `node ${process.version}`,
            KernelVersion: release(),
            MinAPIVersion: MIN_API_VERSION,
            Os: 'linux',
          },
        },
        ...others,
      ],
      Version: WHARF_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: BUILD.gitCommit ?? '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: release(),
      BuildTime: BUILD.buildTime ?? '',
    };
  }

  /** GET /info as Docker answers the request's API version (fields added or dropped over versions). */
  async info(apiVersion: string = API_VERSION): Promise<SystemInfo> {
    const c = this.facts.counts();
    const components = await this.facts.components.all();
    const commit = (name: string) => components.find((x) => x.name === name)?.commit ?? '';
    const runtimeCommit = commit(this.facts.defaultRuntime);
    const initCommit = commit('docker-init');
    const v1 = this.facts.cgroupVersion === '1';
    const info: SystemInfo = {
      ID: this.facts.id,
      Containers: c.containers,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', await (this.backingFs ??= backingFilesystem(this.facts.dataRoot))],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file', 'k8s-file', 'local', 'none'] },
      MemoryLimit: true,
      SwapLimit: true,
      KernelMemoryTCP: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      // memory.oom_control exists on cgroup v1 only.
      OomKillDisable: v1,
      IPv4Forwarding: true,
      Debug: this.facts.debug,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: rfc3339NanoFromNs(wallClockNs()),
      LoggingDriver: this.facts.logDriver,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: this.facts.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: osPrettyName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: arch() === 'x64' ? 'x86_64' : arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryServiceConfig(this.facts.registry.insecureRegistries, this.facts.registry.registryMirrors),
      GenericResources: null,
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: this.facts.dataRoot,
      HttpProxy: proxyFromEnv(process.env, 'http_proxy'),
      HttpsProxy: proxyFromEnv(process.env, 'https_proxy'),
      NoProxy: proxyFromEnv(process.env, 'no_proxy'),
      Name: hostname(),
      Labels: [...this.facts.labels],
      ExperimentalBuild: false,
      ServerVersion: WHARF_VERSION,
      Runtimes: this.facts.runtimes,
      DefaultRuntime: this.facts.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.facts.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: runtimeCommit },
      InitCommit: { ID: initCommit },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(this.facts.cgroupVersion === '2' ? ['name=cgroupns'] : [])],
      DefaultAddressPools: this.facts.defaultAddressPools.length
        ? this.facts.defaultAddressPools.map((p) => ({ Base: p.base, Size: p.size }))
        : undefined,
      FirewallBackend: { Driver: 'iptables' },
      CDISpecDirs: [],
      Warnings: [],
    };
    if (!versionAtLeast(apiVersion, '1.49')) {
      delete info.FirewallBackend;
      info.ContainerdCommit = { ID: '', Expected: '' };
      info.RuncCommit = { ID: runtimeCommit, Expected: runtimeCommit };
      info.InitCommit = { ID: initCommit, Expected: initCommit };
    }
    if (!versionAtLeast(apiVersion, '1.50')) {
      info.BridgeNfIptables = false;
      info.BridgeNfIp6tables = false;
    }
    if (!versionAtLeast(apiVersion, '1.47')) {
      info.RegistryConfig = { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, ...(info.RegistryConfig as object) };
    }
    return info;
  }
}
