/**
 * `run`/`create` flags -> Docker's Config, HostConfig and NetworkingConfig, following the
 * Docker CLI's parse() (cli/command/container/opts.go): same defaults, same validation
 * messages. Flags for features the engine lacks are still parsed into the structs.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type {
  ContainerConfig,
  HealthConfig,
  HostConfig,
  MountSpec,
  NetworkingConfig,
  PortBinding,
  RestartPolicy,
  Ulimit,
} from '../api/types.js';
import { parseGoDuration } from '../lib/go-duration.js';
import { ramInBytes } from './format/units.js';
import { FlagError } from './cli-context.js';
import { checkMacAddress, networkEndpoints } from './network-flag.js';
import { bpsDevices, iopsDevices, weightDevices } from './blkio-options.js';

export { FlagError };

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

interface FlagDef {
  flags: string;
  desc: string;
  list?: boolean;
  def?: unknown;
}

/** The flags shared by `run` and `create` (Docker's addFlags), plus the create options. */
const CONTAINER_FLAGS: FlagDef[] = [
  { flags: '--add-host <list>', desc: 'Add a custom host-to-IP mapping (host:ip)', list: true },
  { flags: '--annotation <list>', desc: 'Add an annotation to the container (passed through to the OCI runtime)', list: true },
  { flags: '-a, --attach <list>', desc: 'Attach to STDIN, STDOUT or STDERR', list: true },
  { flags: '--blkio-weight <uint16>', desc: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
  { flags: '--blkio-weight-device <list>', desc: 'Block IO weight (relative device weight)', list: true },
  { flags: '--cpu-count <int>', desc: 'CPU count (Windows only)' },
  { flags: '--cpu-percent <int>', desc: 'CPU percent (Windows only)' },
  { flags: '--device-read-bps <list>', desc: 'Limit read rate (bytes per second) from a device', list: true },
  { flags: '--device-read-iops <list>', desc: 'Limit read rate (IO per second) from a device', list: true },
  { flags: '--device-write-bps <list>', desc: 'Limit write rate (bytes per second) to a device', list: true },
  { flags: '--device-write-iops <list>', desc: 'Limit write rate (IO per second) to a device', list: true },
  { flags: '--gpus <gpu-request>', desc: 'GPU devices to add to the container (\'all\' to pass all GPUs); not supported by wharf' },
  { flags: '--io-maxbandwidth <bytes>', desc: 'Maximum IO bandwidth limit for the system drive (Windows only)' },
  { flags: '--io-maxiops <uint>', desc: 'Maximum IOps limit for the system drive (Windows only)' },
  { flags: '--cap-add <list>', desc: 'Add Linux capabilities', list: true },
  { flags: '--cap-drop <list>', desc: 'Drop Linux capabilities', list: true },
  { flags: '--cgroup-parent <string>', desc: 'Optional parent cgroup for the container' },
  { flags: '--cgroupns <string>', desc: 'Cgroup namespace to use (host|private)' },
  { flags: '--cidfile <string>', desc: 'Write the container ID to the file' },
  { flags: '--cpu-period <int>', desc: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { flags: '--cpu-quota <int>', desc: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { flags: '--cpu-rt-period <int>', desc: 'Limit CPU real-time period in microseconds' },
  { flags: '--cpu-rt-runtime <int>', desc: 'Limit CPU real-time runtime in microseconds' },
  { flags: '-c, --cpu-shares <int>', desc: 'CPU shares (relative weight)' },
  { flags: '--cpus <decimal>', desc: 'Number of CPUs' },
  { flags: '--cpuset-cpus <string>', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
  { flags: '--cpuset-mems <string>', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
  { flags: '--device <list>', desc: 'Add a host device to the container', list: true },
  { flags: '--device-cgroup-rule <list>', desc: 'Add a rule to the cgroup allowed devices list', list: true },
  { flags: '--dns <list>', desc: 'Set custom DNS servers', list: true },
  { flags: '--dns-option <list>', desc: 'Set DNS options', list: true },
  { flags: '--dns-search <list>', desc: 'Set custom DNS search domains', list: true },
  { flags: '--domainname <string>', desc: 'Container NIS domain name' },
  { flags: '--entrypoint <string>', desc: 'Overwrite the default ENTRYPOINT of the image' },
  { flags: '-e, --env <list>', desc: 'Set environment variables', list: true },
  { flags: '--env-file <list>', desc: 'Read in a file of environment variables', list: true },
  { flags: '--expose <list>', desc: 'Expose a port or a range of ports', list: true },
  { flags: '--group-add <list>', desc: 'Add additional groups to join', list: true },
  { flags: '--health-cmd <string>', desc: 'Command to run to check health' },
  { flags: '--health-interval <duration>', desc: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { flags: '--health-retries <int>', desc: 'Consecutive failures needed to report unhealthy' },
  { flags: '--health-start-interval <duration>', desc: 'Time between running the check during the start period (ms|s|m|h) (default 0s)' },
  { flags: '--health-start-period <duration>', desc: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { flags: '--health-timeout <duration>', desc: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { flags: '-h, --hostname <string>', desc: 'Container host name' },
  { flags: '--init', desc: 'Run an init inside the container that forwards signals and reaps processes' },
  { flags: '-i, --interactive', desc: 'Keep STDIN open even if not attached' },
  { flags: '--ip <string>', desc: 'IPv4 address (e.g., 172.30.100.104)' },
  { flags: '--ip6 <string>', desc: 'IPv6 address (e.g., 2001:db8::33)' },
  { flags: '--ipc <string>', desc: 'IPC mode to use' },
  { flags: '--isolation <string>', desc: 'Container isolation technology' },
  { flags: '--kernel-memory <bytes>', desc: 'Kernel memory limit' },
  { flags: '-l, --label <list>', desc: 'Set meta data on a container', list: true },
  { flags: '--label-file <list>', desc: 'Read in a line delimited file of labels', list: true },
  { flags: '--link <list>', desc: 'Add link to another container', list: true },
  { flags: '--link-local-ip <list>', desc: 'Container IPv4/IPv6 link-local addresses', list: true },
  { flags: '--log-driver <string>', desc: 'Logging driver for the container' },
  { flags: '--log-opt <list>', desc: 'Log driver options', list: true },
  { flags: '--mac-address <string>', desc: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { flags: '-m, --memory <bytes>', desc: 'Memory limit' },
  { flags: '--memory-reservation <bytes>', desc: 'Memory soft limit' },
  { flags: '--memory-swap <bytes>', desc: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { flags: '--memory-swappiness <int>', desc: 'Tune container memory swappiness (0 to 100) (default -1)' },
  { flags: '--mount <mount>', desc: 'Attach a filesystem mount to the container', list: true },
  { flags: '--name <string>', desc: 'Assign a name to the container' },
  { flags: '--network <network>', desc: 'Connect a container to a network', list: true },
  { flags: '--net <network>', desc: 'Connect a container to a network', list: true },
  { flags: '--network-alias <list>', desc: 'Add network-scoped alias for the container', list: true },
  { flags: '--net-alias <list>', desc: 'Add network-scoped alias for the container', list: true },
  { flags: '--no-healthcheck', desc: 'Disable any container-specified HEALTHCHECK' },
  { flags: '--oom-kill-disable', desc: 'Disable OOM Killer' },
  { flags: '--oom-score-adj <int>', desc: "Tune host's OOM preferences (-1000 to 1000)" },
  { flags: '--pid <string>', desc: 'PID namespace to use' },
  { flags: '--pids-limit <int>', desc: 'Tune container pids limit (set -1 for unlimited)' },
  { flags: '--platform <string>', desc: 'Set platform if server is multi-platform capable' },
  { flags: '--privileged', desc: 'Give extended privileges to this container' },
  { flags: '-p, --publish <list>', desc: "Publish a container's port(s) to the host", list: true },
  { flags: '-P, --publish-all', desc: 'Publish all exposed ports to random ports' },
  { flags: '--pull <string>', desc: 'Pull image before running ("always", "missing", "never")', def: 'missing' },
  { flags: '-q, --quiet', desc: 'Suppress the pull output' },
  { flags: '--read-only', desc: "Mount the container's root filesystem as read only" },
  { flags: '--restart <string>', desc: 'Restart policy to apply when a container exits', def: 'no' },
  { flags: '--rm', desc: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { flags: '--runtime <string>', desc: 'Runtime to use for this container' },
  { flags: '--security-opt <list>', desc: 'Security Options', list: true },
  { flags: '--shm-size <bytes>', desc: 'Size of /dev/shm' },
  { flags: '--stop-signal <string>', desc: 'Signal to stop the container' },
  { flags: '--stop-timeout <int>', desc: 'Timeout (in seconds) to stop a container' },
  { flags: '--storage-opt <list>', desc: 'Storage driver options for the container', list: true },
  { flags: '--sysctl <map>', desc: 'Sysctl options', list: true },
  { flags: '--tmpfs <list>', desc: 'Mount a tmpfs directory', list: true },
  { flags: '-t, --tty', desc: 'Allocate a pseudo-TTY' },
  { flags: '--ulimit <ulimit>', desc: 'Ulimit options', list: true },
  { flags: '--use-api-socket', desc: 'Bind mount Docker API socket and required auth' },
  { flags: '-u, --user <string>', desc: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { flags: '--userns <string>', desc: 'User namespace to use' },
  { flags: '--uts <string>', desc: 'UTS namespace to use' },
  { flags: '-v, --volume <list>', desc: 'Bind mount a volume', list: true },
  { flags: '--volume-driver <string>', desc: 'Optional volume driver for the container' },
  { flags: '--volumes-from <list>', desc: 'Mount volumes from the specified container(s)', list: true },
  { flags: '-w, --workdir <string>', desc: 'Working directory inside the container' },
  { flags: '--disable-content-trust', desc: 'Skip image verification (default true)' },
];

const RUN_ONLY_FLAGS: FlagDef[] = [
  { flags: '-d, --detach', desc: 'Run container in background and print container ID' },
  { flags: '--detach-keys <string>', desc: 'Override the key sequence for detaching a container' },
  { flags: '--sig-proxy', desc: 'Proxy received signals to the process', def: true },
];

/** Adds Docker's container flags to a commander command (and run-only ones when `run`). */
export function addContainerFlags(cmd: Command, mode: 'run' | 'create'): Command {
  cmd.helpOption('--help', 'Print usage');
  // Defaults as pflag prints them, `(default "missing")` / `(default true)`, once.
  cmd.configureHelp({
    optionDescription: (opt) => (opt.defaultValue === undefined ? opt.description : `${opt.description} (default ${typeof opt.defaultValue === 'string' ? JSON.stringify(opt.defaultValue) : String(opt.defaultValue)})`),
  });
  const defs = mode === 'run' ? [...CONTAINER_FLAGS, ...RUN_ONLY_FLAGS] : CONTAINER_FLAGS;
  // Byte order, as Go's sort of flag names (and localeCompare's ICU set-up costs ~10 ms at every CLI
  // start); each name taken out once, not at every comparison.
  const named = defs.map((d) => ({ name: longName(d.flags), d }));
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { d } of named) {
    if (d.list) cmd.option(d.flags, d.desc, collect);
    else if (d.def !== undefined) cmd.option(d.flags, d.desc, d.def as string | boolean);
    else cmd.option(d.flags, d.desc);
  }
  return cmd;
}

function longName(flags: string): string {
  return /--([\w-]+)/.exec(flags)?.[1] ?? flags;
}

const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/**
 * Rewrites pflag syntax commander does not know, up to the first positional argument:
 * `--bool=false` (recorded in `falsified`, removed), `--bool=true` (-> `--bool`), `-e=X` (-> `-e X`).
 */
export function normalizePflagArgv(cmd: Command, argv: string[]): { argv: string[]; falsified: Set<string> } {
  const falsified = new Set<string>();
  const out: string[] = [];
  const byLong = new Map(cmd.options.map((o) => [o.long ?? '', o]));
  const byShort = new Map(cmd.options.filter((o) => o.short).map((o) => [o.short!, o]));
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--' || !a!.startsWith('-') || a === '-') break;
    if (a!.startsWith('--')) {
      const eq = a!.indexOf('=');
      const name = eq >= 0 ? a!.slice(0, eq) : a;
      const opt = byLong.get(name!);
      if (opt && !opt.required && !opt.optional && eq >= 0) {
        const v = a!.slice(eq + 1);
        if (FALSE_VALUES.has(v)) {
          falsified.add(opt.attributeName());
          continue;
        }
        if (TRUE_VALUES.has(v)) {
          out.push(name!);
          continue;
        }
        throw new FlagError(`invalid argument "${v}" for "${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
      }
      out.push(a!);
      if (opt && opt.required && eq < 0) out.push(argv[++i] ?? '');
      continue;
    }
    // short cluster: -itd, -eFOO, -e=FOO, -e FOO
    let j = 1;
    let consumedNext = false;
    const pieces: string[] = [];
    while (j < a!.length) {
      const opt = byShort.get(`-${a![j]}`);
      if (opt && opt.required) {
        let v = a!.slice(j + 1);
        if (v.startsWith('=')) v = v.slice(1);
        if (v === '') {
          pieces.push(`-${a![j]}`, argv[i + 1] ?? '');
          consumedNext = true;
        } else {
          pieces.push(`-${a![j]}`, v);
        }
        j = a!.length;
        break;
      }
      if (opt && a![j + 1] === '=') {
        const v = a!.slice(j + 2);
        if (FALSE_VALUES.has(v)) falsified.add(opt.attributeName());
        else pieces.push(`-${a![j]}`);
        j = a!.length;
        break;
      }
      pieces.push(`-${a![j]}`);
      j++;
    }
    out.push(...pieces);
    if (consumedNext) i++;
  }
  return { argv: [...out, ...argv.slice(i)], falsified };
}

export type PullPolicy = 'missing' | 'always' | 'never';

export interface ContainerSpec {
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig;
  name?: string;
  platform?: string;
  pull: PullPolicy;
  quiet: boolean;
  detach: boolean;
  sigProxy: boolean;
  detachKeys?: string;
  /** --use-api-socket (cli/api-socket.ts). */
  useApiSocket?: boolean;
}

type Opts = Record<string, unknown>;

const str = (o: Opts, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
const list = (o: Opts, k: string): string[] => (Array.isArray(o[k]) ? (o[k] as string[]) : []);
const bool = (o: Opts, k: string): boolean => o[k] === true;

export function intFlag(o: Opts, key: string, flag: string): number | undefined {
  const v = o[key];
  if (typeof v !== 'string') return undefined;
  if (!/^[+-]?\d+$/.test(v.trim())) {
    throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  }
  return Number(v);
}

export function bytesFlag(o: Opts, key: string, flag: string): number | undefined {
  const v = o[key];
  if (typeof v !== 'string') return undefined;
  try {
    return ramInBytes(v);
  } catch (err) {
    throw new FlagError(`invalid argument "${v}" for "${flag}" flag: ${(err as Error).message}`);
  }
}

/** --memory-swap: bytes, or -1 for unlimited swap (Docker's MemSwapBytes). */
export function memorySwapFlag(o: Opts): number | undefined {
  if (typeof o.memorySwap !== 'string') return undefined;
  return o.memorySwap === '-1' ? -1 : bytesFlag(o, 'memorySwap', '--memory-swap');
}

function durationFlag(o: Opts, key: string, flag: string): number | undefined {
  const v = o[key];
  if (typeof v !== 'string') return undefined;
  try {
    return parseGoDuration(v);
  } catch (err) {
    throw new FlagError(`invalid argument "${v}" for "${flag}" flag: ${(err as Error).message}`);
  }
}

/** Docker's NanoCPUs.Set: a decimal number of CPUs -> integer nanocpus. */
export function parseCpus(value: string): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(value.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`failed to parse ${value} as a rational number`);
  const frac = m[3] ?? '';
  if (frac.replace(/0+$/, '').length > 9) throw new Error('value is too precise');
  const nano = Number(m[2] || '0') * 1e9 + Number((frac + '000000000').slice(0, 9));
  return m[1] === '-' ? -nano : nano;
}

/** Docker's ParseRestartPolicy. */
export function parseRestartPolicy(policy: string): RestartPolicy {
  if (policy === '') return {};
  const colon = policy.indexOf(':');
  const name = colon >= 0 ? policy.slice(0, colon) : policy;
  const count = colon >= 0 ? policy.slice(colon + 1) : '';
  if (colon >= 0 && name === '') throw new Error('invalid restart policy format: no policy provided before colon');
  let retry = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
    retry = Number(count);
  }
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: retry };
}

/** Docker's kvfile parsing (--env-file, --label-file). `lookup` resolves `KEY` lines. */
export function parseKeyValueFile(content: string, lookup?: (k: string) => string | undefined): string[] {
  const lines: string[] = [];
  content.replace(/^\uFEFF/, '').split('\n').forEach((rawLine) => {
    const line = rawLine.replace(/\r$/, '').replace(/^\s+/, '');
    if (line.length === 0 || line[0] === '#') return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line;
    if (key.length === 0) throw new Error(`no variable name on line '${line}'`);
    if (/[ \t\n\v\f\r]/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
    if (eq >= 0) {
      lines.push(line);
      return;
    }
    if (lookup) {
      const v = lookup(line);
      if (v !== undefined) lines.push(`${key}=${v}`);
    }
  });
  return lines;
}

function readKvFiles(files: string[], lookup?: (k: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const f of files) {
    let content: string;
    try {
      content = readFileSync(f, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const reason = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EISDIR' ? 'is a directory' : e.message;
      throw new Error(`open ${f}: ${reason}`);
    }
    out.push(...parseKeyValueFile(content, lookup));
  }
  return out;
}

/** opts.ValidateEnv: `KEY` alone takes the CLI's own value when it has one. */
export function resolveEnv(val: string, env: NodeJS.ProcessEnv): string {
  const eq = val.indexOf('=');
  const k = eq >= 0 ? val.slice(0, eq) : val;
  if (k === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = env[k];
  return v !== undefined ? `${k}=${v}` : val;
}

function kvMap(items: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq >= 0) m[it.slice(0, eq)] = it.slice(eq + 1);
    else m[it] = '';
  }
  return m;
}

function parsePortRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new Error(`invalid ${what}: ${s}`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  if (start > 65535 || end > 65535) throw new Error(`invalid ${what}: ${s}`);
  if (end < start) throw new Error(`invalid range specified for port: ${s}`);
  return [start, end];
}

/** -p: `[ip:][hostPort:]containerPort[/proto]`, ranges allowed. */
export function parsePortSpec(spec: string): Array<{ port: string; binding: PortBinding }> {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase() || 'tcp';
    rest = rest.slice(0, slash);
  }
  let ip = '';
  let hostPort = '';
  let containerPort: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    ip = v6[1]!;
    const parts = v6[2]!.split(':');
    if (parts.length !== 2) throw new Error(`invalid port format: ${spec}`);
    [hostPort, containerPort] = parts as [string, string];
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPort = parts[0]!;
    else if (parts.length === 2) [hostPort, containerPort] = parts as [string, string];
    else if (parts.length === 3) [ip, hostPort, containerPort] = parts as [string, string, string];
    else {
      containerPort = parts.pop()!;
      hostPort = parts.pop()!;
      ip = parts.join(':');
    }
  }
  if (!containerPort) throw new Error(`no port specified: ${spec}<empty>`);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  const [cStart, cEnd] = parsePortRange(containerPort, 'containerPort');
  let hStart = 0;
  let hEnd = 0;
  if (hostPort) [hStart, hEnd] = parsePortRange(hostPort, 'hostPort');
  if (hostPort && cEnd - cStart !== hEnd - hStart && hEnd !== hStart && cEnd !== cStart) {
    throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const out: Array<{ port: string; binding: PortBinding }> = [];
  for (let i = 0; i <= cEnd - cStart; i++) {
    let hp = hostPort;
    if (hostPort && cEnd - cStart === hEnd - hStart) hp = String(hStart + i);
    else if (hostPort && hEnd !== hStart) hp = `${hStart}-${hEnd}`;
    out.push({ port: `${cStart + i}/${proto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** --mount: Docker's CSV mount syntax. */
export function parseMountSpec(value: string): MountSpec {
  const m: MountSpec = { Type: 'volume', Target: '' };
  let typeSet = false;
  const fields = value.split(',');
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase().trim();
    const val = eq >= 0 ? field.slice(eq + 1) : '';
    const boolVal = (): boolean => {
      if (eq < 0) return true;
      if (TRUE_VALUES.has(val)) return true;
      if (FALSE_VALUES.has(val)) return false;
      throw new Error(`invalid value for ${key}: ${val}`);
    };
    if (eq < 0 && key !== 'readonly' && key !== 'ro' && key !== 'volume-nocopy' && key !== 'bind-nonrecursive') {
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type':
        if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image'].includes(val)) {
          throw new Error(`invalid mount type: ${val}`);
        }
        m.Type = val as MountSpec['Type'];
        typeSet = true;
        break;
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = boolVal();
        break;
      case 'consistency':
        m.Consistency = val;
        break;
      case 'bind-propagation':
        m.BindOptions = { ...(m.BindOptions ?? {}), Propagation: val };
        break;
      case 'bind-nonrecursive':
        m.BindOptions = { ...(m.BindOptions ?? {}), NonRecursive: boolVal() };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), NoCopy: boolVal() };
        break;
      case 'volume-label': {
        const [k, ...v] = val.split('=');
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), Labels: { ...(m.VolumeOptions?.Labels ?? {}), [k!]: v.join('=') } };
        break;
      }
      case 'volume-subpath':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), Subpath: val };
        break;
      case 'volume-driver':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), DriverConfig: { ...(m.VolumeOptions?.DriverConfig ?? {}), Name: val } };
        break;
      case 'volume-opt': {
        const [k, ...v] = val.split('=');
        const dc = m.VolumeOptions?.DriverConfig ?? {};
        m.VolumeOptions = {
          ...(m.VolumeOptions ?? {}),
          DriverConfig: { ...dc, Options: { ...(dc.Options ?? {}), [k!]: v.join('=') } },
        };
        break;
      }
      case 'tmpfs-size':
        m.TmpfsOptions = { ...(m.TmpfsOptions ?? {}), SizeBytes: ramInBytes(val) };
        break;
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val)) throw new Error(`invalid value for ${key}: ${val}`);
        m.TmpfsOptions = { ...(m.TmpfsOptions ?? {}), Mode: parseInt(val, 8) };
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  void typeSet;
  if (m.Target === '') throw new Error('target is required');
  if (m.BindOptions && m.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.VolumeOptions && m.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  return m;
}

const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** --ulimit name=soft[:hard], as go-units' ParseUlimit reads it: -1 is unlimited. */
export function parseUlimit(value: string): Ulimit {
  const bad = (why: string) => new FlagError(`invalid argument "${value}" for "--ulimit" flag: ${why}`);
  const eq = value.indexOf('=');
  if (eq < 0) throw bad(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw bad(`invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2) throw bad(`too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const int64 = (v: string) => {
    if (!/^[+-]?\d+$/.test(v)) throw bad(`strconv.ParseInt: parsing "${v}": invalid syntax`);
    const n = BigInt(v);
    if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) throw bad(`strconv.ParseInt: parsing "${v}": value out of range`);
    return Number(n);
  };
  const hard = limits.length === 2 ? int64(limits[1]!) : undefined;
  const soft = int64(limits[0]!);
  const h = hard ?? soft;
  if (h !== -1) {
    if (soft === -1) throw bad(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${h}`);
    if (soft > h) throw bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  }
  return { Name: name, Soft: soft, Hard: h };
}

function parseDevice(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  let perms = 'rwm';
  let dst = '';
  const host = parts[0]!;
  if (parts.length === 3) {
    perms = parts[2]!;
    dst = parts[1]!;
  } else if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length !== 1) {
    throw new Error(`invalid device specification: ${spec}`);
  }
  return { PathOnHost: host, PathInContainer: dst || host, CgroupPermissions: perms };
}

function parseSecurityOpts(opts: string[]): string[] {
  return opts.map((opt) => {
    if (opt === 'no-new-privileges') return opt;
    const eq = opt.indexOf('=') >= 0 ? opt.indexOf('=') : opt.indexOf(':');
    if (eq < 0) throw new Error(`invalid --security-opt: "${opt}"`);
    const k = opt.slice(0, eq);
    const v = opt.slice(eq + 1);
    if (k === 'seccomp' && v !== 'unconfined' && v !== 'builtin') {
      let content: string;
      try {
        content = readFileSync(v, 'utf8');
      } catch (err) {
        throw new Error(`opening seccomp profile (${v}) failed: ${(err as Error).message}`);
      }
      try {
        return `seccomp=${JSON.stringify(JSON.parse(content))}`;
      } catch (err) {
        throw new Error(`compacting json for seccomp profile (${v}) failed: ${(err as Error).message}`);
      }
    }
    return opt;
  });
}

const VALID_ATTACH = new Set(['stdin', 'stdout', 'stderr']);

/**
 * Builds the create request from parsed flag values, the image and its command (Docker's parse()).
 * Throws plain Errors with Docker's messages; flag value errors are FlagError.
 */
export function buildContainerSpec(o: Opts, image: string, cmdArgs: string[], env: NodeJS.ProcessEnv = process.env): ContainerSpec {
  // wharfd has no GPU device driver (Docker's --gpus needs the NVIDIA container toolkit's)
  if (o.gpus !== undefined) throw new Error('--gpus is not supported: wharf has no GPU device driver');
  const attach = list(o, 'attach').map((a) => {
    const lower = a.toLowerCase();
    if (!VALID_ATTACH.has(lower)) throw new Error('valid streams are STDIN, STDOUT and STDERR');
    return lower;
  });
  const detach = bool(o, 'detach');
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  const stdin = bool(o, 'interactive');
  if (stdin) attachStdin = true;
  if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
  }

  const memory = bytesFlag(o, 'memory', '-m, --memory');
  const memoryReservation = bytesFlag(o, 'memoryReservation', '--memory-reservation');
  const memorySwap = memorySwapFlag(o);
  const kernelMemory = bytesFlag(o, 'kernelMemory', '--kernel-memory');
  const shmSize = bytesFlag(o, 'shmSize', '--shm-size');
  let nanoCpus: number | undefined;
  if (typeof o.cpus === 'string') {
    try {
      nanoCpus = parseCpus(o.cpus);
    } catch (err) {
      throw new FlagError(`invalid argument "${o.cpus}" for "--cpus" flag: ${(err as Error).message}`);
    }
  }
  const swappiness = intFlag(o, 'memorySwappiness', '--memory-swappiness') ?? -1;
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new Error(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }

  // Volumes: a bare path is an anonymous volume; anything with a source is a bind/named volume.
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const v of list(o, 'volume')) {
    if (v.split(':').length >= 2) binds.push(v);
    else volumes[v] = {};
  }

  const tmpfs: Record<string, string> = {};
  for (const t of list(o, 'tmpfs')) {
    const colon = t.indexOf(':');
    const path = colon >= 0 ? t.slice(0, colon) : t;
    if (!path.startsWith('/')) throw new Error(`invalid mount config for type "tmpfs": invalid mount path: '${path}' mount path must be absolute`);
    tmpfs[path] = colon >= 0 ? t.slice(colon + 1) : '';
  }

  const entrypointSet = typeof o.entrypoint === 'string';
  let entrypoint: string[] | null = null;
  if (entrypointSet && o.entrypoint !== '') entrypoint = [o.entrypoint as string];
  else if (entrypointSet) entrypoint = [''];

  const exposed: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, PortBinding[]> = {};
  for (const p of list(o, 'publish')) {
    for (const { port, binding } of parsePortSpec(p)) {
      exposed[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  for (const e of list(o, 'expose')) {
    const slash = e.lastIndexOf('/');
    const proto = slash >= 0 ? e.slice(slash + 1) : 'tcp';
    let start: number;
    let end: number;
    try {
      [start, end] = parsePortRange(slash >= 0 ? e.slice(0, slash) : e, 'port');
    } catch (err) {
      throw new Error(`invalid range format for --expose: ${(err as Error).message}`);
    }
    for (let i = start; i <= end; i++) exposed[`${i}/${proto}`] = {};
  }

  let envVars: string[];
  try {
    envVars = [
      ...readKvFiles(list(o, 'envFile'), (k) => env[k]),
      ...list(o, 'env').map((e) => resolveEnv(e, env)),
    ];
  } catch (err) {
    throw new Error(`--env-file: ${(err as Error).message}`);
  }
  let labels: string[];
  try {
    labels = [...readKvFiles(list(o, 'labelFile')), ...list(o, 'label')];
  } catch (err) {
    throw new Error(`--label-file: ${(err as Error).message}`);
  }

  const restartPolicy: RestartPolicy = parseRestartPolicy(str(o, 'restart'));
  const autoRemove = bool(o, 'rm');
  const restartIsNone = !restartPolicy.Name || restartPolicy.Name === 'no';
  if (autoRemove && !restartIsNone) throw new Error('conflicting options: cannot specify both --restart and --rm');

  let healthcheck: HealthConfig | undefined;
  const healthInterval = durationFlag(o, 'healthInterval', '--health-interval');
  const healthTimeout = durationFlag(o, 'healthTimeout', '--health-timeout');
  const healthStart = durationFlag(o, 'healthStartPeriod', '--health-start-period');
  const healthStartInterval = durationFlag(o, 'healthStartInterval', '--health-start-interval');
  const healthRetries = intFlag(o, 'healthRetries', '--health-retries');
  const haveHealthOpts =
    typeof o.healthCmd === 'string' ||
    healthInterval !== undefined ||
    healthTimeout !== undefined ||
    healthStart !== undefined ||
    healthStartInterval !== undefined ||
    healthRetries !== undefined;
  if (bool(o, 'healthcheck') === false && o.healthcheck === false) {
    // commander: --no-healthcheck sets healthcheck=false
    if (haveHealthOpts) throw new Error('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (haveHealthOpts) {
    if ((healthInterval ?? 0) < 0) throw new Error('--health-interval cannot be negative');
    if ((healthTimeout ?? 0) < 0) throw new Error('--health-timeout cannot be negative');
    if ((healthRetries ?? 0) < 0) throw new Error('--health-retries cannot be negative');
    if ((healthStart ?? 0) < 0) throw new Error('--health-start-period cannot be negative');
    if ((healthStartInterval ?? 0) < 0) throw new Error('--health-start-interval cannot be negative');
    healthcheck = {
      Test: typeof o.healthCmd === 'string' && o.healthCmd !== '' ? ['CMD-SHELL', o.healthCmd] : undefined,
      Interval: healthInterval ?? 0,
      Timeout: healthTimeout ?? 0,
      StartPeriod: healthStart ?? 0,
      StartInterval: healthStartInterval ?? 0,
      Retries: healthRetries ?? 0,
    };
  }

  const logOpts = kvMap(list(o, 'logOpt'));
  const sysctls = kvMap(list(o, 'sysctl'));
  const storageOpt: Record<string, string> = {};
  for (const s of list(o, 'storageOpt')) {
    const eq = s.indexOf('=');
    if (eq < 0) throw new Error('invalid storage option');
    storageOpt[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const annotations = kvMap(list(o, 'annotation'));

  const cgroupns = str(o, 'cgroupns');
  if (cgroupns && cgroupns !== 'host' && cgroupns !== 'private') throw new Error('--cgroupns: invalid CGROUP mode');
  const uts = str(o, 'uts');
  if (uts && uts !== 'host') throw new Error('--uts: invalid UTS mode');
  const userns = str(o, 'userns');
  if (userns && userns !== 'host') throw new Error('--userns: invalid USER mode');
  const pid = str(o, 'pid');
  if (pid && pid !== 'host' && !pid.startsWith('container:')) throw new Error('--pid: invalid PID mode');

  const extraHosts = list(o, 'addHost').map((h) => {
    const eq = h.indexOf('=');
    const colon = h.indexOf(':');
    const sep = eq >= 0 ? eq : colon;
    if (sep <= 0) throw new Error(`bad format for add-host: "${h}"`);
    return `${h.slice(0, sep)}:${h.slice(sep + 1)}`;
  });

  const macAddress = str(o, 'macAddress') && checkMacAddress(str(o, 'macAddress'));

  const networks = [...list(o, 'network'), ...list(o, 'net')];
  const aliases = [...list(o, 'networkAlias'), ...list(o, 'netAlias')];
  const { mode: networkMode, endpoints } = networkEndpoints(networks, {
    aliases,
    links: list(o, 'link'),
    ip: str(o, 'ip'),
    ip6: str(o, 'ip6'),
    mac: macAddress,
    linkLocalIps: list(o, 'linkLocalIp'),
  });

  const stopTimeout = intFlag(o, 'stopTimeout', '--stop-timeout');
  const pidsLimit = intFlag(o, 'pidsLimit', '--pids-limit');

  const config: ContainerConfig = {
    Hostname: str(o, 'hostname'),
    Domainname: str(o, 'domainname'),
    User: str(o, 'user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Tty: bool(o, 'tty'),
    OpenStdin: stdin,
    StdinOnce: false,
    Env: envVars,
    Cmd: cmdArgs.length ? cmdArgs : null,
    Image: image,
    Volumes: volumes,
    WorkingDir: str(o, 'workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: kvMap(labels),
    ...(str(o, 'stopSignal') ? { StopSignal: str(o, 'stopSignal') } : {}),
    ...(stopTimeout !== undefined ? { StopTimeout: stopTimeout } : {}),
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
  };
  if (config.OpenStdin && config.AttachStdin) config.StdinOnce = true;
  if (detach) {
    config.AttachStdin = false;
    config.AttachStdout = false;
    config.AttachStderr = false;
    config.StdinOnce = false;
  }

  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: str(o, 'cidfile'),
    LogConfig: { Type: str(o, 'logDriver'), Config: logOpts },
    NetworkMode: networkMode,
    PortBindings: portBindings,
    RestartPolicy: restartPolicy,
    AutoRemove: autoRemove,
    VolumeDriver: str(o, 'volumeDriver'),
    VolumesFrom: list(o, 'volumesFrom').length ? list(o, 'volumesFrom') : null,
    ConsoleSize: [0, 0],
    Annotations: Object.keys(annotations).length ? annotations : null,
    CapAdd: list(o, 'capAdd').length ? list(o, 'capAdd') : null,
    CapDrop: list(o, 'capDrop').length ? list(o, 'capDrop') : null,
    CgroupnsMode: cgroupns as HostConfig['CgroupnsMode'],
    Dns: list(o, 'dns'),
    DnsOptions: list(o, 'dnsOption'),
    DnsSearch: list(o, 'dnsSearch'),
    ExtraHosts: extraHosts.length ? extraHosts : null,
    GroupAdd: list(o, 'groupAdd').length ? list(o, 'groupAdd') : null,
    IpcMode: str(o, 'ipc'),
    Cgroup: '',
    Links: list(o, 'link').length ? list(o, 'link') : null,
    OomScoreAdj: intFlag(o, 'oomScoreAdj', '--oom-score-adj') ?? 0,
    PidMode: pid,
    Privileged: bool(o, 'privileged'),
    PublishAllPorts: bool(o, 'publishAll'),
    ReadonlyRootfs: bool(o, 'readOnly'),
    SecurityOpt: list(o, 'securityOpt').length ? parseSecurityOpts(list(o, 'securityOpt')) : null,
    ...(Object.keys(storageOpt).length ? { StorageOpt: storageOpt } : {}),
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : null,
    UTSMode: uts,
    UsernsMode: userns,
    ShmSize: shmSize ?? 0,
    ...(Object.keys(sysctls).length ? { Sysctls: sysctls } : {}),
    ...(str(o, 'runtime') ? { Runtime: str(o, 'runtime') } : {}),
    Isolation: str(o, 'isolation'),
    CpuShares: intFlag(o, 'cpuShares', '-c, --cpu-shares') ?? 0,
    Memory: memory ?? 0,
    NanoCpus: nanoCpus ?? 0,
    CgroupParent: str(o, 'cgroupParent'),
    BlkioWeight: intFlag(o, 'blkioWeight', '--blkio-weight') ?? 0,
    BlkioWeightDevice: weightDevices(list(o, 'blkioWeightDevice')),
    BlkioDeviceReadBps: bpsDevices('--device-read-bps', list(o, 'deviceReadBps')),
    BlkioDeviceWriteBps: bpsDevices('--device-write-bps', list(o, 'deviceWriteBps')),
    BlkioDeviceReadIOps: iopsDevices('--device-read-iops', list(o, 'deviceReadIops')),
    BlkioDeviceWriteIOps: iopsDevices('--device-write-iops', list(o, 'deviceWriteIops')),
    CpuCount: intFlag(o, 'cpuCount', '--cpu-count') ?? 0,
    CpuPercent: intFlag(o, 'cpuPercent', '--cpu-percent') ?? 0,
    IOMaximumIOps: intFlag(o, 'ioMaxiops', '--io-maxiops') ?? 0,
    IOMaximumBandwidth: bytesFlag(o, 'ioMaxbandwidth', '--io-maxbandwidth') ?? 0,
    CpuPeriod: intFlag(o, 'cpuPeriod', '--cpu-period') ?? 0,
    CpuQuota: intFlag(o, 'cpuQuota', '--cpu-quota') ?? 0,
    CpuRealtimePeriod: intFlag(o, 'cpuRtPeriod', '--cpu-rt-period') ?? 0,
    CpuRealtimeRuntime: intFlag(o, 'cpuRtRuntime', '--cpu-rt-runtime') ?? 0,
    CpusetCpus: str(o, 'cpusetCpus'),
    CpusetMems: str(o, 'cpusetMems'),
    Devices: list(o, 'device').map(parseDevice),
    DeviceCgroupRules: list(o, 'deviceCgroupRule').length ? list(o, 'deviceCgroupRule') : null,
    KernelMemory: kernelMemory ?? 0,
    MemoryReservation: memoryReservation ?? 0,
    MemorySwap: memorySwap ?? 0,
    MemorySwappiness: swappiness,
    OomKillDisable: bool(o, 'oomKillDisable'),
    PidsLimit: pidsLimit ?? 0,
    Ulimits: list(o, 'ulimit').length ? list(o, 'ulimit').map(parseUlimit) : null,
    Mounts: list(o, 'mount').length ? list(o, 'mount').map(parseMountSpec) : null,
    MaskedPaths: null,
    ReadonlyPaths: null,
  };
  if (typeof o.init === 'boolean' && (o.init || o.__initExplicit)) hostConfig.Init = o.init;

  const pull = str(o, 'pull') || 'missing';
  if (!['always', 'missing', 'never'].includes(pull)) {
    throw new Error(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }

  return {
    config,
    hostConfig,
    networkingConfig: { EndpointsConfig: endpoints },
    name: str(o, 'name') || undefined,
    platform: str(o, 'platform') || undefined,
    pull: pull as PullPolicy,
    quiet: bool(o, 'quiet'),
    detach,
    sigProxy: o.sigProxy !== false,
    detachKeys: str(o, 'detachKeys') || undefined,
    useApiSocket: bool(o, 'useApiSocket') || undefined,
  };
}

/**
 * Parses a full `run`/`create` argument list (everything after the command name) the way
 * `wharf run` does: flags up to the image, the rest is the container's command.
 */
export function parseRunArgv(argv: string[], mode: 'run' | 'create' = 'run', env: NodeJS.ProcessEnv = process.env): ContainerSpec {
  const cmd = new Command(mode);
  cmd.argument('<image>').argument('[command...]').passThroughOptions().allowExcessArguments(true);
  addContainerFlags(cmd, mode);
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  const { argv: norm, falsified } = normalizePflagArgv(cmd, argv);
  try {
    cmd.parse(norm, { from: 'user' });
  } catch (err) {
    throw new FlagError((err as Error).message.replace(/^error: /, ''));
  }
  const opts = applyFalsified(cmd.opts(), falsified);
  const [image, command] = cmd.processedArgs as [string, string[]];
  return buildContainerSpec(opts, image, command ?? [], env);
}

/** Applies `--flag=false` values recorded by normalizePflagArgv. */
export function applyFalsified(opts: Opts, falsified: Set<string>): Opts {
  const out = { ...opts };
  for (const k of falsified) {
    out[k] = false;
    if (k === 'init') out.__initExplicit = true;
  }
  return out;
}
