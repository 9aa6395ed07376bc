/**
 * wharfd's configuration: command-line flags merged with /etc/wharf/daemon.json, following
 * dockerd's rules. The file uses Docker's key names; a key the file sets may not also be set by
 * a flag (Docker refuses rather than guessing which wins), unknown keys are rejected, and
 * values are type-checked with errors that name the key.
 */
import { validateLogConfig } from './log-config.js';
import { overlaps6, parseCidr6 } from '../network/ipv6.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parseGoBool } from '../lib/go-bool.js';

export interface RuntimeEntry {
  path: string;
  runtimeArgs?: string[];
}

export interface AddressPool {
  base: string;
  size: number;
}

export interface DaemonConfig {
  /** The daemon.json that was read, or the default path if that did not exist. */
  configFile: string;
  dataRoot: string;
  execRoot: string;
  /** Unix socket of the Kubernetes CRI endpoint (`--cri-socket`, "cri-socket"); no CRI when unset. */
  criSocket?: string;
  /** `host:port` of the CRI streaming server (`--cri-stream-address`, "cri-stream-address"); default 127.0.0.1, any free port. */
  criStreamAddress?: string;
  /** Image of pod sandboxes' infra containers (`--cri-pause-image`, "cri-pause-image"); default wharf/pause built from catatonit. */
  criPauseImage?: string;
  /** Listen addresses, e.g. `unix:///run/wharf.sock`, `tcp://127.0.0.1:2375`. */
  hosts: string[];
  debug: boolean;
  /** Effective log level: `log-level`, else `debug` when debug is on, else `info`. */
  logLevel: LogLevel;
  defaultRuntime: string;
  /** Always includes the built-in `runc`. */
  runtimes: Record<string, RuntimeEntry>;
  pidfile: string;
  liveRestore: boolean;
  /** Group that owns the unix sockets. */
  group: string;
  cgroupParent?: string;
  /** Raw `--exec-opt` values (`key=value`). */
  execOpts: string[];
  /** From `native.cgroupdriver` in exec-opts; cgroupfs unless set. */
  cgroupDriver: 'cgroupfs' | 'systemd';
  // Accepted and kept for later parts of the engine.
  bip?: string;
  /** `ip`: where the default bridge's ports published without an address listen. */
  defaultBindIp?: string;
  /** Device name of the default bridge (Docker's -b/--bridge); also names this daemon's iptables chains. */
  bridge: string;
  /** IPv6 on the default bridge (`ipv6`), and its subnet (`fixed-cidr-v6`; else one from the pools). */
  ipv6: boolean;
  fixedCidrV6?: string;
  /** `allow-direct-routing`: packets routed to nat networks' containers from other hosts are not dropped. */
  allowDirectRouting: boolean;
  defaultAddressPools: AddressPool[];
  insecureRegistries: string[];
  registryMirrors: string[];
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** Daemon labels (`--label`, "labels"), shown in /info. */
  labels: string[];
  dns: string[];
  /** Containers' default search domains and resolver options (`dns-search`, `dns-opts`). */
  dnsSearch: string[];
  dnsOpts: string[];
  /** The default MTU of bridge networks (`mtu`); 0 leaves the kernel's (1500). */
  mtu: number;
  storageDriver: 'overlay2';
  /** Containers' default LogConfig (`log-driver`, `log-opts`). */
  logDriver: string;
  logOpts: Record<string, string>;
  /**
   * `tls`/`tlsverify` as the user set them (flag or file; undefined when unset), after
   * dockerd's rules: setting tlsverify at all turns tls on, and tlsverify follows tls when unset.
   */
  tls?: boolean;
  tlsVerify?: boolean;
  /** Certificate files for the TCP listeners (used when tls is on). */
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export const DEFAULT_CONFIG_FILE = '/etc/wharf/daemon.json';
export const DEFAULT_DATA_ROOT = '/var/lib/wharf';
export const DEFAULT_EXEC_ROOT = '/run/wharf';
export const DEFAULT_HOST = 'unix:///run/wharf.sock';
export const DEFAULT_PIDFILE = '/run/wharf.pid';
export const DEFAULT_GROUP = 'wharf';
export const DEFAULT_RUNTIME = 'runc';
/** dockerd's address when TLS is on and no -H is given (DefaultTLSHost). */
export const DEFAULT_TLS_HOST = 'tcp://localhost:2376';
const BUILTIN_RUNTIMES: Record<string, RuntimeEntry> = { runc: { path: 'runc' } };
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

/**
 * Where dockerd looks for ca.pem, cert.pem and key.pem by default: $DOCKER_CERT_PATH, else
 * $DOCKER_CONFIG, else ~/.docker (dockerd's own defaults, kept for wharfd).
 */
export function defaultCertDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || join(homedir(), '.docker');
}

type Kind = 'string' | 'bool' | 'number' | 'strings' | 'stringMap' | 'runtimes' | 'pools';

/** One configuration option: its daemon.json key, its commander attribute, its value kind. */
interface OptionSpec {
  key: string;
  attr: string;
  kind: Kind;
}

const OPTIONS: OptionSpec[] = [
  { key: 'data-root', attr: 'dataRoot', kind: 'string' },
  { key: 'exec-root', attr: 'execRoot', kind: 'string' },
  { key: 'hosts', attr: 'host', kind: 'strings' },
  { key: 'debug', attr: 'debug', kind: 'bool' },
  { key: 'default-runtime', attr: 'defaultRuntime', kind: 'string' },
  { key: 'runtimes', attr: 'addRuntime', kind: 'runtimes' },
  { key: 'pidfile', attr: 'pidfile', kind: 'string' },
  { key: 'live-restore', attr: 'liveRestore', kind: 'bool' },
  { key: 'group', attr: 'group', kind: 'string' },
  { key: 'log-level', attr: 'logLevel', kind: 'string' },
  { key: 'cgroup-parent', attr: 'cgroupParent', kind: 'string' },
  { key: 'exec-opts', attr: 'execOpt', kind: 'strings' },
  { key: 'bip', attr: 'bip', kind: 'string' },
  { key: 'ip', attr: 'ip', kind: 'string' },
  { key: 'bridge', attr: 'bridge', kind: 'string' },
  { key: 'ipv6', attr: 'ipv6', kind: 'bool' },
  { key: 'fixed-cidr-v6', attr: 'fixedCidrV6', kind: 'string' },
  { key: 'allow-direct-routing', attr: 'allowDirectRouting', kind: 'bool' },
  { key: 'default-address-pools', attr: 'defaultAddressPool', kind: 'pools' },
  { key: 'insecure-registries', attr: 'insecureRegistry', kind: 'strings' },
  { key: 'registry-mirrors', attr: 'registryMirror', kind: 'strings' },
  { key: 'max-concurrent-downloads', attr: 'maxConcurrentDownloads', kind: 'number' },
  { key: 'max-concurrent-uploads', attr: 'maxConcurrentUploads', kind: 'number' },
  { key: 'labels', attr: 'label', kind: 'strings' },
  { key: 'dns', attr: 'dns', kind: 'strings' },
  { key: 'dns-search', attr: 'dnsSearch', kind: 'strings' },
  { key: 'dns-opts', attr: 'dnsOpt', kind: 'strings' },
  { key: 'mtu', attr: 'mtu', kind: 'number' },
  { key: 'storage-driver', attr: 'storageDriver', kind: 'string' },
  { key: 'log-driver', attr: 'logDriver', kind: 'string' },
  { key: 'log-opts', attr: 'logOpt', kind: 'stringMap' },
  { key: 'tls', attr: 'tls', kind: 'bool' },
  { key: 'tlsverify', attr: 'tlsverify', kind: 'bool' },
  { key: 'tlscacert', attr: 'tlscacert', kind: 'string' },
  { key: 'tlscert', attr: 'tlscert', kind: 'string' },
  { key: 'tlskey', attr: 'tlskey', kind: 'string' },
  { key: 'cri-socket', attr: 'criSocket', kind: 'string' },
  { key: 'cri-stream-address', attr: 'criStreamAddress', kind: 'string' },
  { key: 'cri-pause-image', attr: 'criPauseImage', kind: 'string' },
];

/** Keys that may come from both places: the flag values are added to the file's (as Docker does for runtimes). */
const MERGED_KEYS = new Set(['runtimes']);

const collect = (value: string, previous: string[]) => [...previous, value];

function buildProgram(defaultConfigFile: string): Command {
  const certDir = defaultCertDir();
  return new Command('wharfd')
    .description('A self-sufficient runtime for containers (Docker Engine API compatible)')
    .helpOption('--help', 'Print usage')
    .option('--config-file <path>', 'Daemon configuration file', defaultConfigFile)
    .option('--data-root <dir>', 'Root directory of persistent Wharf state', DEFAULT_DATA_ROOT)
    .option('--exec-root <dir>', 'Root directory for execution state files', DEFAULT_EXEC_ROOT)
    .option('-H, --host <address>', 'Daemon socket(s) to connect to (repeatable)', collect, [])
    .option('-D, --debug', 'Enable debug mode')
    .option('--default-runtime <name>', 'Default OCI runtime for containers', DEFAULT_RUNTIME)
    .option('--add-runtime <name=path>', 'Register an additional OCI compatible runtime (repeatable)', collect, [])
    .option('-p, --pidfile <path>', 'Path to use for daemon PID file', DEFAULT_PIDFILE)
    .option('--live-restore', 'Enable live restore of containers when the daemon stops')
    .option('-G, --group <group>', 'Group for the unix socket', DEFAULT_GROUP)
    .addOption(new Option('-l, --log-level <level>', 'Set the logging level').choices(LOG_LEVELS))
    .option('--cgroup-parent <parent>', 'Set parent cgroup for all containers')
    .option('--exec-opt <opt>', 'Runtime execution options (repeatable)', collect, [])
    .option('--bip <cidr>', 'IPv4 address and prefix of the default bridge')
    .option('--ip <address>', 'Host IP for port publishing from the default bridge network')
    .option('-b, --bridge <name>', 'Device name of the default bridge network', 'wharf0')
    .option('--ipv6', 'Enable IPv6 networking on the default bridge')
    .option('--fixed-cidr-v6 <cidr>', 'IPv6 subnet for the default bridge network')
    .option('--allow-direct-routing', 'Allow remote access to published ports on container IP addresses')
    .option('--default-address-pool <base=cidr,size=n>', 'Default address pools for local networks (repeatable)', collect, [])
    .option('--insecure-registry <registry>', 'Enable insecure registry communication (repeatable)', collect, [])
    .option('--registry-mirror <url>', 'Preferred registry mirror (repeatable)', collect, [])
    .option('--max-concurrent-downloads <n>', 'Maximum concurrent downloads for each pull', '3')
    .option('--max-concurrent-uploads <n>', 'Maximum concurrent uploads for each push', '5')
    .option('--label <key=value>', 'Set key=value labels to the daemon (repeatable)', collect, [])
    .option('--dns <ip>', 'DNS server to use (repeatable)', collect, [])
    .option('--dns-search <domain>', 'DNS search domains to use (repeatable)', collect, [])
    .option('--dns-opt <option>', 'DNS options to use (repeatable)', collect, [])
    .option('--mtu <n>', 'Network MTU of bridge networks (0: the kernel default)', '0')
    .option('-s, --storage-driver <driver>', 'Storage driver to use', 'overlay2')
    .option('--log-driver <driver>', 'Default driver for container logs', 'json-file')
    .option('--log-opt <key=value>', 'Default log driver options for containers (repeatable)', collect, [])
    .option('--tls', 'Use TLS; implied by --tlsverify')
    .addOption(new Option('--no-tls').hideHelp())
    .option('--tlsverify', 'Use TLS and verify the remote')
    .addOption(new Option('--no-tlsverify').hideHelp())
    .option('--tlscacert <path>', 'Trust certs signed only by this CA', join(certDir, 'ca.pem'))
    .option('--tlscert <path>', 'Path to TLS certificate file', join(certDir, 'cert.pem'))
    .option('--tlskey <path>', 'Path to TLS key file', join(certDir, 'key.pem'))
    .option('--cri-socket <path>', 'Also serve the Kubernetes CRI (runtime.v1) on this unix socket')
    .option('--cri-stream-address <host:port>', 'Address of the CRI streaming server (exec, attach, port-forward)', '127.0.0.1:0')
    .option('--cri-pause-image <image>', 'Image for the infra container of CRI pod sandboxes (default: wharf/pause, built from catatonit)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} });
}

/** Boolean flags that take pflag's `--flag=false` form (the documented way to opt out of TLS). */
const BOOL_VALUE_FLAGS = new Set(['tls', 'tlsverify']);

/** `--tls=false` -> `--no-tls`, `--tlsverify=true` -> `--tlsverify`; pflag's bool syntax. */
function normalizeBoolFlags(argv: string[]): string[] {
  return argv.map((arg) => {
    const m = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (!m || !BOOL_VALUE_FLAGS.has(m[1]!)) return arg;
    const b = parseGoBool(m[2]!);
    if (b === true) return `--${m[1]}`;
    if (b === false) return `--no-${m[1]}`;
    throw new Error(`invalid argument "${m[2]}" for "--${m[1]}" flag: strconv.ParseBool: parsing ${JSON.stringify(m[2])}: invalid syntax`);
  });
}

/** Go's %v rendering of a value, as Docker prints conflicts: `[a b]`, `map[k:v]`, `true`. */
function goFormat(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${goFormat(x)}`).join(' ')}]`;
  }
  return String(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function typeError(key: string, expected: string, v: unknown): Error {
  return new Error(`invalid value for "${key}" in the configuration file: expected ${expected}, got ${typeName(v)} ${JSON.stringify(v)}`);
}

function checkFileValue(spec: OptionSpec, v: unknown): unknown {
  const { key } = spec;
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string') throw typeError(key, 'a string', v);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(key, 'a boolean', v);
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(key, 'an integer', v);
      return v;
    case 'strings':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw typeError(key, 'an array of strings', v);
      return v;
    case 'stringMap':
      if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
        throw typeError(key, 'an object of strings', v);
      }
      return v;
    case 'runtimes': {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw typeError(key, 'an object of {"name": {"path": ...}}', v);
      const out: Record<string, RuntimeEntry> = {};
      for (const [name, entry] of Object.entries(v as Record<string, unknown>)) {
        const at = `${key}.${name}`;
        if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw typeError(at, 'an object', entry);
        const { path, runtimeArgs } = entry as Record<string, unknown>;
        if (typeof path !== 'string' || path === '') throw typeError(`${at}.path`, 'a non-empty string', path);
        if (runtimeArgs !== undefined && (!Array.isArray(runtimeArgs) || runtimeArgs.some((x) => typeof x !== 'string'))) {
          throw typeError(`${at}.runtimeArgs`, 'an array of strings', runtimeArgs);
        }
        out[name] = runtimeArgs ? { path, runtimeArgs: runtimeArgs as string[] } : { path };
      }
      return out;
    }
    case 'pools': {
      if (!Array.isArray(v)) throw typeError(key, 'an array of {"base": "cidr", "size": n}', v);
      return v.map((p, i) => {
        if (!p || typeof p !== 'object' || Array.isArray(p)) throw typeError(`${key}[${i}]`, 'an object', p);
        const { base, size } = p as Record<string, unknown>;
        if (typeof base !== 'string') throw typeError(`${key}[${i}].base`, 'a string', base);
        if (typeof size !== 'number' || !Number.isInteger(size)) throw typeError(`${key}[${i}].size`, 'an integer', size);
        return { base, size };
      });
    }
  }
}

function parseAddRuntime(values: string[]): Record<string, RuntimeEntry> {
  const out: Record<string, RuntimeEntry> = {};
  for (const val of values) {
    const eq = val.indexOf('=');
    const name = eq < 0 ? '' : val.slice(0, eq).trim();
    const path = eq < 0 ? '' : val.slice(eq + 1).trim();
    if (!name || !path) throw new Error(`invalid runtime argument: ${val}`);
    if (out[name]) throw new Error(`runtime '${name}' was already defined`);
    out[name] = { path };
  }
  return out;
}

function parsePoolFlag(val: string): AddressPool {
  const fields = new Map<string, string>();
  for (const part of val.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`invalid field '${part}' must be a key=value pair`);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const base = fields.get('base');
  const size = Number(fields.get('size'));
  if (!base || !Number.isInteger(size)) throw new Error(`invalid default address pool: ${val}`);
  return { base, size };
}

function parseCidr(v: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

function validateHost(host: string): string {
  if (host === 'unix://' || host === '') return DEFAULT_HOST;
  if (host.startsWith('unix://')) {
    if (!host.slice(7).startsWith('/')) throw new Error(`Invalid bind address format: ${host}`);
    return host;
  }
  if (host.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*):(\d+)\/?$/.exec(host);
    if (!m || Number(m[2]) > 65535) throw new Error(`Invalid bind address format: ${host}`);
    return host;
  }
  if (host.startsWith('/')) return `unix://${host}`;
  // systemd socket activation: all activated sockets, or fd://N (checked when listening).
  if (host.startsWith('fd://')) return host;
  throw new Error(`Invalid bind address format: ${host}`);
}

function cgroupDriverOf(execOpts: string[]): 'cgroupfs' | 'systemd' {
  let driver: 'cgroupfs' | 'systemd' = 'cgroupfs';
  for (const opt of execOpts) {
    const eq = opt.indexOf('=');
    if (eq < 0) throw new Error(`Unable to parse key/value option: ${opt}`);
    const key = opt.slice(0, eq).trim().toLowerCase();
    const value = opt.slice(eq + 1).trim();
    if (key !== 'native.cgroupdriver') throw new Error(`run type unsupported: ${key}`);
    if (value !== 'cgroupfs' && value !== 'systemd') {
      throw new Error(`native.cgroupdriver option ${value} not supported`);
    }
    driver = value;
  }
  return driver;
}

async function readConfigFile(path: string, explicit: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && !explicit) return {};
    if (e.code === 'ENOENT') throw new Error(`open ${path}: no such file or directory`);
    throw new Error(`unable to read configuration file ${path}: ${e.message}`);
  }
  text = text.replace(/^\uFEFF/, '');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`unable to parse configuration file ${path}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`unable to parse configuration file ${path}: the top level must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Parses wharfd's argv (without `node` and the script) and merges daemon.json into it.
 * `defaultConfigFile` is read when --config-file is not given (tests pass their own).
 */
export async function loadDaemonConfig(argv: string[], defaultConfigFile = DEFAULT_CONFIG_FILE): Promise<DaemonConfig> {
  const program = buildProgram(defaultConfigFile);
  try {
    program.parse(normalizeBoolFlags(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.code === 'commander.helpDisplayed') process.exit(0);
    if (err instanceof CommanderError) throw new Error(err.message.replace(/^error: /, ''));
    throw err;
  }
  const flags = program.opts<Record<string, unknown>>();
  const fromCli = (attr: string) => program.getOptionValueSource(attr) === 'cli';

  const configFile = resolve(String(flags.configFile));
  const file = await readConfigFile(configFile, fromCli('configFile'));

  const specByKey = new Map(OPTIONS.map((o) => [o.key, o]));
  const unknown = Object.keys(file).filter((k) => !specByKey.has(k)).sort();
  if (unknown.length) throw new Error(`the following directives don't match any configuration option: ${unknown.join(', ')}`);

  const conflicts: string[] = [];
  for (const spec of OPTIONS) {
    if (spec.key in file && fromCli(spec.attr) && !MERGED_KEYS.has(spec.key)) {
      conflicts.push(`${spec.key}: (from flag: ${goFormat(flags[spec.attr])}, from file: ${goFormat(file[spec.key])})`);
    }
  }
  if (conflicts.length) {
    throw new Error(`the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`);
  }

  const fileValues = new Map<string, unknown>();
  for (const [key, value] of Object.entries(file)) fileValues.set(key, checkFileValue(specByKey.get(key)!, value));

  /** The file's value when the file sets the key, else the flag's (given or default). */
  const pick = <T>(key: string): T => {
    const spec = specByKey.get(key)!;
    return (fileValues.has(key) ? fileValues.get(key) : flags[spec.attr]) as T;
  };

  // dockerd: setting tlsverify at all (even to false) turns tls on; unset tlsverify follows tls.
  let tls = pick<boolean | undefined>('tls');
  let tlsVerify = pick<boolean | undefined>('tlsverify');
  if (tlsVerify !== undefined) tls = true;
  if (tlsVerify === undefined && tls !== undefined) tlsVerify = tls;
  // Unset cert/key paths whose default file does not exist are dropped, as dockerd does (the
  // TLS setup then reports the missing key pair); the CA path is kept.
  const tlsPath = (key: 'tlscacert' | 'tlscert' | 'tlskey'): string => {
    const value = pick<string>(key);
    const set = fileValues.has(key) || fromCli(specByKey.get(key)!.attr);
    return key === 'tlscacert' || set || existsSync(value) ? value : '';
  };

  const hostList = pick<string[]>('hosts').filter((h) => h.trim() !== '');
  const hosts = [...new Set((hostList.length ? hostList : [tls ? DEFAULT_TLS_HOST : DEFAULT_HOST]).map(validateHost))];

  const flagRuntimes = parseAddRuntime(flags.addRuntime as string[]);
  const fileRuntimes = (fileValues.get('runtimes') ?? {}) as Record<string, RuntimeEntry>;
  for (const name of Object.keys(flagRuntimes)) {
    if (name in fileRuntimes) throw new Error(`runtime '${name}' was already defined`);
  }
  const userRuntimes = { ...fileRuntimes, ...flagRuntimes };
  for (const name of Object.keys(userRuntimes)) {
    if (name in BUILTIN_RUNTIMES) throw new Error(`runtime name '${name}' is reserved`);
  }
  const runtimes = { ...BUILTIN_RUNTIMES, ...userRuntimes };
  const defaultRuntime = pick<string>('default-runtime');
  if (!(defaultRuntime in runtimes)) throw new Error(`specified default runtime '${defaultRuntime}' does not exist`);

  const debug = pick<boolean | undefined>('debug') ?? false;
  const level = pick<string | undefined>('log-level');
  if (level !== undefined && !LOG_LEVELS.includes(level as LogLevel)) throw new Error(`invalid logging level: ${level}`);
  const logLevel: LogLevel = (level as LogLevel | undefined) ?? (debug ? 'debug' : 'info');

  const maxConcurrentDownloads = Number(pick<string | number>('max-concurrent-downloads'));
  if (!Number.isInteger(maxConcurrentDownloads) || maxConcurrentDownloads < 0) {
    throw new Error(`invalid max concurrent downloads: ${pick('max-concurrent-downloads')}`);
  }

  const maxConcurrentUploads = Number(pick<string | number>('max-concurrent-uploads'));
  if (!Number.isInteger(maxConcurrentUploads) || maxConcurrentUploads < 0) {
    throw new Error(`invalid max concurrent uploads: ${pick('max-concurrent-uploads')}`);
  }
  const labels = pick<string[]>('labels');
  for (const l of labels) {
    if (!/^[^=\s]+=/.test(l) || /[\x00-\x1f]/.test(l)) throw new Error(`bad attribute format: ${l}`);
  }

  const storageDriver = pick<string>('storage-driver');
  if (storageDriver !== 'overlay2') {
    throw new Error(`error initializing graphdriver: driver not supported: ${storageDriver} (wharf supports overlay2 only)`);
  }

  const bip = pick<string | undefined>('bip');
  const bridgeName = pick<string>('bridge');
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName)) throw new Error(`invalid value for "bridge": ${bridgeName} is not a valid interface name`);
  if (bip !== undefined && !parseCidr(bip)) throw new Error(`invalid value for "bip": ${bip} is not a CIDR address`);
  const defaultBindIp = pick<string | undefined>('ip');
  if (defaultBindIp !== undefined && isIP(defaultBindIp) === 0) throw new Error(`invalid argument "${defaultBindIp}" for "--ip" flag: invalid string being converted to IP address: ${defaultBindIp}`);

  const ipv6 = pick<boolean | undefined>('ipv6') ?? false;
  const fixedCidrV6 = pick<string | undefined>('fixed-cidr-v6');
  if (fixedCidrV6) {
    const err = fixedCidrV6Error(fixedCidrV6);
    // dockerd wraps the bridge driver's error once more when validating the platform config.
    if (err) throw new Error(`invalid fixed-cidr-v6: invalid fixed-cidr-v6: ${err}`);
  }

  const defaultAddressPools = fileValues.has('default-address-pools')
    ? (fileValues.get('default-address-pools') as AddressPool[])
    : (flags.defaultAddressPool as string[]).map(parsePoolFlag);
  for (const pool of defaultAddressPools) {
    if (!parseCidr(pool.base)) throw new Error(`invalid base pool "${pool.base}": not a CIDR address`);
    if (pool.size < 0 || pool.size > 128) throw new Error(`invalid pools size: ${pool.size}`);
  }

  const mtuValue = pick<string | number>('mtu');
  const mtu = Number(mtuValue);
  if (!Number.isInteger(mtu)) throw new Error(`invalid default MTU: ${mtuValue}`);
  if (mtu < 0) throw new Error(`invalid default MTU: ${mtu}`);
  const dns = pick<string[]>('dns');
  for (const ip of dns) if (!isIP(ip)) throw new Error(`${ip} is not an ip address`);
  // One field each of resolv.conf's lines.
  const dnsSearch = pick<string[]>('dns-search');
  for (const d of dnsSearch) if (!/^[^\s\x00-\x1f\x7f]{1,255}$/.test(d)) throw new Error(`${d} is not a valid domain`);
  const dnsOpts = pick<string[]>('dns-opts');
  for (const o of dnsOpts) if (!/^[^\s\x00-\x1f\x7f]+$/.test(o)) throw new Error(`invalid DNS option: ${JSON.stringify(o)}`);

  const logDriver = pick<string>('log-driver');
  const logOpts = fileValues.has('log-opts') ? (fileValues.get('log-opts') as Record<string, string>) : parseLogOptFlags(flags.logOpt as string[]);
  validateLogConfig({ Type: logDriver, Config: logOpts });

  const execOpts = pick<string[]>('exec-opts');
  const cgroupDriver = cgroupDriverOf(execOpts);

  const cgroupParent = pick<string | undefined>('cgroup-parent');
  const dataRoot = pick<string>('data-root');
  const execRoot = pick<string>('exec-root');
  const pidfile = pick<string>('pidfile');
  const criSocket = pick<string | undefined>('cri-socket');
  const criStreamAddress = pick<string>('cri-stream-address');
  const criPauseImage = pick<string | undefined>('cri-pause-image');
  for (const [key, v] of [['data-root', dataRoot], ['exec-root', execRoot], ['pidfile', pidfile]] as const) {
    if (!v) throw new Error(`invalid value for "${key}": must not be empty`);
  }

  return {
    configFile,
    dataRoot: resolve(dataRoot),
    execRoot: resolve(execRoot),
    hosts,
    debug,
    logLevel,
    defaultRuntime,
    runtimes,
    pidfile: resolve(pidfile),
    liveRestore: pick<boolean | undefined>('live-restore') ?? false,
    group: pick<string>('group'),
    ...(cgroupParent ? { cgroupParent } : {}),
    execOpts,
    cgroupDriver,
    ...(bip !== undefined ? { bip } : {}),
    ...(defaultBindIp !== undefined ? { defaultBindIp } : {}),
    bridge: bridgeName,
    ipv6,
    ...(fixedCidrV6 ? { fixedCidrV6 } : {}),
    allowDirectRouting: pick<boolean | undefined>('allow-direct-routing') ?? false,
    defaultAddressPools,
    insecureRegistries: pick<string[]>('insecure-registries'),
    registryMirrors: pick<string[]>('registry-mirrors'),
    maxConcurrentDownloads,
    maxConcurrentUploads,
    labels,
    dns,
    dnsSearch,
    dnsOpts,
    mtu,
    storageDriver: 'overlay2',
    logDriver,
    logOpts,
    ...(tls !== undefined ? { tls } : {}),
    ...(tlsVerify !== undefined ? { tlsVerify } : {}),
    tlsCaCert: tlsPath('tlscacert'),
    tlsCert: tlsPath('tlscert'),
    tlsKey: tlsPath('tlskey'),
    ...(criSocket ? { criSocket: resolve(criSocket) } : {}),
    criStreamAddress,
    ...(criPauseImage ? { criPauseImage } : {}),
  };
}

/** The bridge driver's ValidateFixedCIDRV6: Go's netip.ParsePrefix errors, then the subnet rules. */
function fixedCidrV6Error(v: string): string | undefined {
  const slash = v.lastIndexOf('/');
  const at = `netip.ParsePrefix(${JSON.stringify(v)})`;
  if (slash < 0) return `${at}: no '/'`;
  const addr = v.slice(0, slash);
  const bitsText = v.slice(slash + 1);
  if (!isIP(addr)) return `${at}: ParseAddr(${JSON.stringify(addr)}): unable to parse IP`;
  if (!/^(0|[1-9]\d{0,2})$/.test(bitsText)) return `${at}: bad bits after slash: ${JSON.stringify(bitsText)}`;
  const bits = Number(bitsText);
  if (bits > (isIP(addr) === 6 ? 128 : 32)) return `${at}: prefix length out of range`;
  const p = parseCidr6(v);
  if (!p || p.ip >> 32n === 0xffffn) return `'${v}' is not a valid IPv6 subnet`;
  if (p.ip >> 120n === 0xffn) return `multicast subnet '${v}' is not allowed`;
  const linkLocal = { base: 0xfe80n << 112n, bits: 64 };
  if (!(p.cidr.base === linkLocal.base && p.cidr.bits === 64) && overlaps6(linkLocal, p.cidr)) {
    return `'${v}' clashes with the Link-Local prefix 'fe80::/64'`;
  }
  return undefined;
}

function parseLogOptFlags(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const val of values) {
    const eq = val.indexOf('=');
    if (eq <= 0) throw new Error(`invalid key-value pair "${val}"`);
    out[val.slice(0, eq)] = val.slice(eq + 1);
  }
  return out;
}
