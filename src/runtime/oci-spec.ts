/** The parts of the OCI runtime spec (config.json) that Wharf writes. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciLinuxResources {
  devices?: Array<{ allow: boolean; type?: string; major?: number; minor?: number; access?: string }>;
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls?: Array<{ names: string[]; action: string; errnoRet?: number; args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> }>;
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal?: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] };
    rlimits?: Array<{ type: string; hard: number; soft: number }>;
    noNewPrivileges?: boolean;
    apparmorProfile?: string;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  hooks?: Record<string, Array<{ path: string; args?: string[]; env?: string[]; timeout?: number }>>;
  annotations?: Record<string, string>;
  linux: {
    uidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
    gidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
    sysctl?: Record<string, string>;
    resources?: OciLinuxResources;
    cgroupsPath?: string;
    namespaces: Array<{ type: string; path?: string }>;
    devices?: Array<{ path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }>;
    seccomp?: OciSeccomp;
    rootfsPropagation?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}
