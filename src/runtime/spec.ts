/**
 * Builds a container's OCI config.json as Docker does (moby's oci defaults plus
 * daemon/oci_linux.go): namespaces, capabilities, seccomp, masked/readonly paths, mounts,
 * device cgroup rules, resources, rlimits, user, env, cwd, hostname.
 *
 * buildSpec reads no file a client names: a seccomp profile comes as JSON in SecurityOpt.
 */
import { existsSync, readFileSync } from 'node:fs';
import { access, readFile, statfs, constants as fsConstants } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ContainerConfig, HostConfig } from '../api/types.js';
import { invalidParameter } from '../lib/errors.js';
import type { OciLinuxResources, OciMount, OciSpec } from './oci-spec.js';
import { parseDeviceCgroupRule, type DeviceCgroupRule, type OciDevice } from './devices.js';
import { DEFAULT_SECCOMP_PROFILE, seccompToOci, type SeccompProfile } from './seccomp-default.js';

/**
 * `new`: runc makes one; `own`: one of the container's own that the daemon made beforehand
 * (joined by path, and treated as new); `path`: another's (container:<id>); `host`.
 */
export type NetworkNamespace = { kind: 'new' } | { kind: 'own'; path: string } | { kind: 'host' } | { kind: 'path'; path: string };

export interface SpecInput {
  /** Container ID. */
  id: string;
  /** The mounted rootfs (overlay merged dir). */
  rootfs: string;
  /** The merged container Config. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Entrypoint + Cmd, already merged. */
  args: string[];
  /** Already merged environment (`K=V`). */
  env: string[];
  cwd: string;
  /** undefined: no hostname set (e.g. UTS shared with the host). */
  hostname?: string;
  domainname?: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  /** Files the daemon wrote, bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles?: { hostname?: string; hosts?: string; resolvConf?: string };
  /** A host directory bound as /dev/shm (shareable IPC: the donor's tmpfs), instead of a tmpfs of its own. */
  shmSource?: string;
  network: NetworkNamespace;
  /** Cgroup parent (HostConfig.CgroupParent or the daemon's); default `/wharf` (cgroupfs) or `system.slice` (systemd). */
  cgroupParent?: string;
  /** Default 'cgroupfs'. With 'systemd', cgroupsPath is `slice:wharf:<id>`. */
  cgroupDriver?: 'cgroupfs' | 'systemd';
  cgroupVersion: '1' | '2';
  /** Init binary for `--init` (HostConfig.Init); mounted at /sbin/docker-init. */
  initPath?: string;
  /** Further mounts the daemon resolved (binds, volumes), in any order; they win over the defaults. */
  mounts?: OciMount[];
  /** Namespaces to join for `--pid container:x` / `--ipc container:x` (e.g. /proc/<pid>/ns/pid). */
  pidNamespacePath?: string;
  ipcNamespacePath?: string;
  /** Device nodes the daemon resolved (runtime/devices.ts): HostConfig.Devices, or the host's /dev when privileged. */
  devices?: OciDevice[];
  /** The cgroup rules of HostConfig.Devices (before the --device-cgroup-rule ones). */
  deviceRules?: DeviceCgroupRule[];
  /** Whether a sysctl exists on this host (Docker sets its defaults only then); default: looks in /proc/sys. */
  sysctlExists?: (name: string) => boolean;
  /** The daemon runs in a user namespace (no ping_group_range then, as in Docker); default: from /proc/self/uid_map. */
  inUserNamespace?: boolean;
  /** memory.memsw is available (cgroup v1 swap accounting); default true. */
  swapAccounting?: boolean;
  /** Host arch as Node's process.arch (seccomp architectures); default process.arch. */
  arch?: string;
}

export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability up to CAP_CHECKPOINT_RESTORE (40), in kernel order. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const CPU_PERIOD = 100_000;

/** Device cgroup rules every container gets (after deny-all): mknod anything, then the standard devices. */
const DEFAULT_DEVICE_RULES: NonNullable<OciLinuxResources['devices']> = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // console
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // tun
];

export function buildSpec(input: SpecInput): OciSpec {
  const hc = input.hostConfig;
  const privileged = !!hc.Privileged;
  const security = parseSecurityOpts(hc.SecurityOpt ?? []);
  const caps = tweakCapabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], privileged);

  let args = input.args;
  if (input.initPath) args = ['/sbin/docker-init', '--', ...args];

  const process: OciSpec['process'] = {
    terminal: !!input.config.Tty,
    user: { uid: input.user.uid, gid: input.user.gid },
    args,
    env: input.env,
    cwd: input.cwd || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: security.noNewPrivileges,
    oomScoreAdj: hc.OomScoreAdj ?? 0,
  };
  if (input.user.additionalGids.length) process.user.additionalGids = input.user.additionalGids;
  if (input.config.Tty && hc.ConsoleSize && (hc.ConsoleSize[0] || hc.ConsoleSize[1])) {
    process.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
  }
  // A missing Name or limit decodes as Go's zero value; runc names the bad one in its error.
  const rlimits = (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${(u.Name ?? '').toUpperCase()}`, hard: u.Hard ?? 0, soft: u.Soft ?? 0 }));
  if (rlimits.length) process.rlimits = rlimits;

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process,
    root: { path: input.rootfs, readonly: !!hc.ReadonlyRootfs },
    mounts: buildMounts(input, privileged),
    linux: {
      namespaces: buildNamespaces(input),
      resources: buildResources(hc, privileged, input.swapAccounting ?? true, input.deviceRules ?? []),
      cgroupsPath: cgroupsPath(input),
      maskedPaths: privileged ? [] : (hc.MaskedPaths ?? DEFAULT_MASKED_PATHS),
      readonlyPaths: privileged ? [] : (hc.ReadonlyPaths ?? DEFAULT_READONLY_PATHS),
    },
  };
  if (input.hostname !== undefined && hc.UTSMode !== 'host') spec.hostname = input.hostname;
  if (input.domainname && hc.UTSMode !== 'host') spec.domainname = input.domainname;
  const sysctl = { ...defaultSysctls(input), ...(hc.Sysctls ?? {}) };
  // runc before 1.2 ignores the spec's domainname; Docker sets the NIS domainname by this sysctl.
  if (input.domainname && hc.UTSMode !== 'host') sysctl['kernel.domainname'] = input.domainname;
  if (Object.keys(sysctl).length) spec.linux.sysctl = sysctl;
  if (hc.Annotations && Object.keys(hc.Annotations).length) spec.annotations = { ...hc.Annotations };
  if (input.devices?.length) spec.linux.devices = input.devices;

  if (!privileged && security.seccomp !== 'unconfined') {
    const profile = security.seccomp ?? DEFAULT_SECCOMP_PROFILE;
    const seccomp = seccompToOci(profile, caps, input.arch);
    if (seccomp) spec.linux.seccomp = seccomp;
  }
  return spec;
}

// ---- capabilities -------------------------------------------------------------------------

/** `net_admin` / `NET_ADMIN` / `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; "ALL" stays "ALL". */
export function normalizeCaps(list: string[]): { caps: string[]; all: boolean } {
  const caps: string[] = [];
  let all = false;
  for (const raw of list) {
    const upper = raw.trim().toUpperCase();
    if (upper === 'ALL' || upper === 'CAP_ALL') {
      all = true;
      continue;
    }
    const cap = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
    if (!ALL_CAPABILITIES.includes(cap)) throw invalidParameter(`unknown capability: "${cap}"`);
    if (!caps.includes(cap)) caps.push(cap);
  }
  return { caps, all };
}

let boundingSet: string[] | undefined;

/**
 * The capabilities this process may hand on (its bounding set): "all" for a privileged
 * container means these, since runc cannot grant more than the engine holds.
 */
export function hostCapabilities(): string[] {
  if (boundingSet) return boundingSet;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    const mask = m ? BigInt(`0x${m[1]}`) : -1n;
    boundingSet = mask === -1n ? [...ALL_CAPABILITIES] : ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
  } catch {
    boundingSet = [...ALL_CAPABILITIES];
  }
  return boundingSet;
}

/** Docker's TweakCapabilities: the default set, minus CapDrop, plus CapAdd; "ALL" on either side. */
export function tweakCapabilities(adds: string[], drops: string[], privileged: boolean, all: string[] = hostCapabilities()): string[] {
  const add = normalizeCaps(adds);
  const drop = normalizeCaps(drops);
  if (privileged) return [...all];
  if (add.all) return all.filter((c) => !drop.caps.includes(c));
  if (drop.all) return [...add.caps];
  const caps = DEFAULT_CAPABILITIES.filter((c) => !drop.caps.includes(c));
  for (const c of add.caps) if (!caps.includes(c)) caps.push(c);
  return caps;
}

// ---- security options ---------------------------------------------------------------------

interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined: the default profile. */
  seccomp?: SeccompProfile | 'unconfined';
}

function parseSecurityOpts(opts: string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue; // label=disable's short form; no SELinux here
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalidParameter(`invalid --security-opt 1: "${opt}"`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'label':
      case 'apparmor':
        break; // no SELinux / AppArmor on this engine; accepted as Docker accepts them without the LSM
      case 'seccomp':
        {
          const profile = parseSeccompOpt(value, opt);
          if (profile === undefined) delete out.seccomp;
          else out.seccomp = profile;
        }
        break;
      case 'no-new-privileges':
        if (/^(1|t|T|TRUE|true|True)$/.test(value)) out.noNewPrivileges = true;
        else if (/^(0|f|F|FALSE|false|False)$/.test(value)) out.noNewPrivileges = false;
        else throw invalidParameter(`invalid --security-opt 2: "${opt}"`);
        break;
      case 'systempaths':
        if (value !== 'unconfined') throw invalidParameter(`invalid --security-opt 2: "${opt}"`);
        break; // the CLI turns it into empty MaskedPaths/ReadonlyPaths
      default:
        throw invalidParameter(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

/**
 * `unconfined`, `builtin`, or the profile JSON itself: the client reads a profile file and sends
 * its content (as the Docker CLI does). The daemon never opens a path named here — that would
 * let any API client read root's files through the error message.
 */
function parseSeccompOpt(value: string, opt: string): SeccompProfile | 'unconfined' | undefined {
  if (value === 'unconfined') return 'unconfined';
  if (value === 'builtin') return undefined;
  let profile: SeccompProfile;
  try {
    profile = JSON.parse(value) as SeccompProfile;
  } catch (err) {
    throw invalidParameter(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
  if (!profile || typeof profile !== 'object' || (profile.defaultAction !== undefined && typeof profile.defaultAction !== 'string')) {
    throw invalidParameter(`invalid --security-opt 2: "${opt.length > 80 ? opt.slice(0, 80) + '...' : opt}"`);
  }
  return profile;
}

// ---- sysctls ------------------------------------------------------------------------------

/**
 * Docker's default sysctls for a container with a network namespace of its own (not host, not
 * container:<id>): any user may bind ports below 1024 and open ICMP echo sockets. --sysctl wins.
 */
function defaultSysctls(input: SpecInput): Record<string, string> {
  if (input.network.kind !== 'new' && input.network.kind !== 'own') return {};
  const exists = input.sysctlExists ?? ((name: string) => existsSync(`/proc/sys/${name.replaceAll('.', '/')}`));
  const out: Record<string, string> = {};
  if (!(input.inUserNamespace ?? runningInUserNamespace()) && exists('net.ipv4.ping_group_range')) {
    out['net.ipv4.ping_group_range'] = '0 2147483647';
  }
  if (exists('net.ipv4.ip_unprivileged_port_start')) out['net.ipv4.ip_unprivileged_port_start'] = '0';
  return out;
}

let inUserNs: boolean | undefined;

/** Whether this process runs in a user namespace (its uid map is not the whole range). */
export function runningInUserNamespace(): boolean {
  if (inUserNs !== undefined) return inUserNs;
  try {
    inUserNs = !/^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    inUserNs = false;
  }
  return inUserNs;
}

// ---- namespaces and cgroups ---------------------------------------------------------------

function buildNamespaces(input: SpecInput): OciSpec['linux']['namespaces'] {
  const hc = input.hostConfig;
  const ns: OciSpec['linux']['namespaces'] = [{ type: 'mount' }];
  if (input.network.kind === 'new') ns.push({ type: 'network' });
  else if (input.network.kind === 'path' || input.network.kind === 'own') ns.push({ type: 'network', path: input.network.path });
  if (hc.UTSMode !== 'host') ns.push({ type: 'uts' });
  if (input.pidNamespacePath) ns.push({ type: 'pid', path: input.pidNamespacePath });
  else if (hc.PidMode !== 'host') ns.push({ type: 'pid' });
  if (input.ipcNamespacePath) ns.push({ type: 'ipc', path: input.ipcNamespacePath });
  else if (hc.IpcMode !== 'host') ns.push({ type: 'ipc' });
  const cgroupns = hc.CgroupnsMode || (input.cgroupVersion === '2' ? 'private' : 'host');
  if (cgroupns === 'private') ns.push({ type: 'cgroup' });
  return ns;
}

function cgroupsPath(input: SpecInput): string {
  if (input.cgroupDriver === 'systemd') {
    const parent = input.cgroupParent || 'system.slice';
    return `${parent}:wharf:${input.id}`;
  }
  const parent = input.cgroupParent || '/wharf';
  return posix.join(parent.startsWith('/') ? parent : `/${parent}`, input.id);
}

function buildResources(hc: HostConfig, privileged: boolean, swapAccounting: boolean, deviceRules: DeviceCgroupRule[]): OciLinuxResources {
  const r: OciLinuxResources = {};
  if (privileged) {
    r.devices = [{ allow: true, access: 'rwm' }];
  } else {
    r.devices = [{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES, ...deviceRules];
    for (const rule of hc.DeviceCgroupRules ?? []) r.devices.push(parseDeviceCgroupRule(rule));
  }

  const memory: NonNullable<OciLinuxResources['memory']> = {};
  if (hc.Memory && hc.Memory > 0) memory.limit = hc.Memory;
  if (hc.MemoryReservation && hc.MemoryReservation > 0) memory.reservation = hc.MemoryReservation;
  if (swapAccounting) {
    if (hc.MemorySwap && hc.MemorySwap !== 0) memory.swap = hc.MemorySwap;
    else if (memory.limit) memory.swap = memory.limit * 2; // Docker: unset swap = twice the memory limit
  }
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness >= 0) {
    memory.swappiness = hc.MemorySwappiness;
  }
  if (hc.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) r.memory = memory;

  const cpu: NonNullable<OciLinuxResources['cpu']> = {};
  if (hc.NanoCpus && hc.NanoCpus > 0) {
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.floor((hc.NanoCpus * CPU_PERIOD) / 1e9);
  }
  if (hc.CpuShares && hc.CpuShares > 0) cpu.shares = hc.CpuShares;
  if (hc.CpuQuota && hc.CpuQuota !== 0) cpu.quota = hc.CpuQuota;
  if (hc.CpuPeriod && hc.CpuPeriod > 0) cpu.period = hc.CpuPeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;

  if (hc.PidsLimit && hc.PidsLimit > 0) r.pids = { limit: hc.PidsLimit };
  if (hc.BlkioWeight && hc.BlkioWeight > 0) r.blockIO = { weight: hc.BlkioWeight };
  return r;
}

// ---- mounts -------------------------------------------------------------------------------

function buildMounts(input: SpecInput, privileged: boolean): OciMount[] {
  const hc = input.hostConfig;
  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;
  const ipcHost = hc.IpcMode === 'host';
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
    // A host without /dev/mqueue mounted (some sandboxes): a new mqueue mount of the host's IPC
    // namespace (the container's with --ipc host) shows the same queues.
    ipcHost && existsSync('/dev/mqueue')
      ? { destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    ipcHost || input.shmSource
      ? { destination: '/dev/shm', type: 'bind', source: ipcHost ? '/dev/shm' : input.shmSource!, options: ['rbind', 'rprivate'] }
      : {
          destination: '/dev/shm',
          type: 'tmpfs',
          source: 'shm',
          options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
        },
  ];
  // Docker mounts no /dev/shm for --ipc none.
  if (hc.IpcMode === 'none') defaults.pop();

  const etcOpts = ['rbind', 'rprivate', hc.ReadonlyRootfs ? 'ro' : 'rw'];
  const etc: OciMount[] = [];
  const files = input.etcFiles ?? {};
  if (files.resolvConf) etc.push({ destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options: etcOpts });
  if (files.hostname) etc.push({ destination: '/etc/hostname', type: 'bind', source: files.hostname, options: etcOpts });
  if (files.hosts) etc.push({ destination: '/etc/hosts', type: 'bind', source: files.hosts, options: etcOpts });

  const user: OciMount[] = [...(input.mounts ?? [])];
  for (const [dest, opts] of Object.entries(hc.Tmpfs ?? {})) {
    user.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(opts) });
  }
  if (input.initPath) {
    user.push({ destination: '/sbin/docker-init', type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  }
  const userDests = new Set(user.map((m) => posix.normalize(m.destination)));
  const mounts = defaults.filter((m) => !userDests.has(m.destination));
  // Parents before children, as Docker sorts mounts by destination depth: the /etc files go with
  // the user's mounts, so that a volume at /etc does not hide them.
  const sorted = [...etc.filter((m) => !userDests.has(m.destination)), ...user];
  sorted.sort((a, b) => depth(a.destination) - depth(b.destination));
  return [...mounts, ...sorted];
}

function depth(p: string): number {
  return posix.normalize(p).split('/').filter(Boolean).length;
}

/** Docker's defaults (noexec,nosuid,nodev) merged with the user's; a later flag overrides its opposite. */
export function tmpfsOptions(opts: string): string[] {
  const opposite: Record<string, string> = {
    exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev',
    rw: 'ro', ro: 'rw', atime: 'noatime', noatime: 'atime',
  };
  const out = ['noexec', 'nosuid', 'nodev'];
  for (const raw of opts.split(',')) {
    const o = raw.trim();
    if (!o) continue;
    const key = o.split('=')[0];
    const opp = opposite[o];
    let idx = opp ? out.indexOf(opp) : -1;
    if (idx >= 0) out.splice(idx, 1);
    idx = out.findIndex((x) => x === o || (o.includes('=') && x.split('=')[0] === key));
    if (idx >= 0) out.splice(idx, 1);
    out.push(o);
  }
  return out;
}

// ---- host detection -----------------------------------------------------------------------

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** '2' when /sys/fs/cgroup is the unified hierarchy, else '1' (legacy or hybrid). */
export async function detectCgroupVersion(root = '/sys/fs/cgroup'): Promise<'1' | '2'> {
  try {
    const st = await statfs(root);
    if (Number(st.type) === CGROUP2_SUPER_MAGIC) return '2';
    return '1';
  } catch {
    return (await exists(posix.join(root, 'cgroup.controllers'))) ? '2' : '1';
  }
}

/**
 * A init binary for `--init`. Static ones first: images such as busybox have no libc for a
 * dynamically linked tini to load.
 */
export async function findInitBinary(candidates = ['/usr/bin/tini-static', '/usr/bin/catatonit', '/usr/bin/tini', '/usr/bin/docker-init']): Promise<string | undefined> {
  let fallback: string | undefined;
  for (const path of candidates) {
    if (!(await exists(path, fsConstants.X_OK))) continue;
    if (await isStaticElf(path)) return path;
    fallback ??= path;
  }
  return fallback;
}

async function exists(path: string, mode = fsConstants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** An ELF with no PT_INTERP program header needs no dynamic loader. */
export async function isStaticElf(path: string): Promise<boolean> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return false;
  }
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  const phoff = is64 ? u64(0x20) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) break;
    if (u32(off) === PT_INTERP) return false;
  }
  return true;
}
