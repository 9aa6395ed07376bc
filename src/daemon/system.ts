/** GET /version and GET /info. */
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem, arch } from 'node:os';
import type { SystemBackend } from '../api/backend.js';
import type { SystemInfo, VersionInfo } from '../api/types.js';
import { API_VERSION, MIN_API_VERSION } from '../api/version.js';

export const WHARF_VERSION = '0.1.0';

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

export interface SystemFacts {
  id: string;
  dataRoot: string;
  defaultRuntime: string;
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
  liveRestore: boolean;
  /** The daemon's default log driver. */
  logDriver: string;
  debug: boolean;
  cgroupVersion: '1' | '2';
  counts(): { containers: number; running: number; paused: number; stopped: number; images: number };
}

export class SystemService implements SystemBackend {
  constructor(private readonly facts: SystemFacts) {}

  async version(): Promise<VersionInfo> {
    return {
      Platform: { Name: 'Wharf Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: WHARF_VERSION,
          Details: {
            ApiVersion: API_VERSION,
            Arch: goArch(),
            BuildTime: '',
            Experimental: 'false',
            GitCommit: '',
            GoVersion: `node ${process.version}`,
            KernelVersion: release(),
            MinAPIVersion: MIN_API_VERSION,
            Os: 'linux',
          },
        },
      ],
      Version: WHARF_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: release(),
      BuildTime: '',
    };
  }

  async info(): Promise<SystemInfo> {
    const c = this.facts.counts();
    return {
      ID: this.facts.id,
      Containers: c.containers,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', 'extfs'],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
      ],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file', 'k8s-file', 'local', 'none'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      Debug: this.facts.debug,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
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
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: this.facts.dataRoot,
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: WHARF_VERSION,
      Runtimes: this.facts.runtimes,
      DefaultRuntime: this.facts.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.facts.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      SecurityOptions: ['name=seccomp,profile=builtin', ...(this.facts.cgroupVersion === '2' ? ['name=cgroupns'] : [])],
      Warnings: [],
    };
  }
}
