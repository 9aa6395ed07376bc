/**
 * Integration-test harness: runs the real wharfd (its bundle, dist/daemon/main.js) as root on fresh
 * temp dirs on the host filesystem, drives it with the real `wharf` CLI or Docker CLI, and
 * cleans up everything it made (daemon, conmon, runc containers, mounts, cgroups, dirs).
 *
 *   const d = await startDaemon();
 *   await loadBusybox(d);
 *   const r = await d.wharf(['run', '--rm', 'busybox', 'echo', 'hi']);   // {code, stdout, stderr}
 *   assert.deepEqual(await countLeaks(d), {...});
 *   await d.cleanup();
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, rmdir, statfs, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX_IMAGE_CHANGES, buildBusyboxRootfsBuffer } from '../fixtures/busybox.js';
import { Firewall, chainPrefixForBridge } from '../../src/network/iptables.js';
import { randomBytes, randomInt } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';

export { freePort, httpGet, jsonBody, socketJson, socketRequest } from '../lib/http.js';

/** The repository root (this file runs from dist/test/integration/). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** wharfd as users run it: the bundle (scripts/bundle-daemon.mjs). WHARFD_MAIN overrides it (e.g. to test another build). */
export const DAEMON_MAIN = process.env.WHARFD_MAIN ?? join(REPO_ROOT, 'dist/daemon/main.js');
/** The CLI as users run it: the bundle (dist/cli/wharf.cjs) through its launcher. */
export const CLI_MAIN = join(REPO_ROOT, 'bin/wharf.cjs');
export const DOCKER_CLI = '/usr/local/bin/docker';
const OVERLAYFS_MAGIC = 0x794c7630;

/**
 * Tests of this file that failed so far. A daemon cleaned up after a failure prints the end of
 * its log into the test output: a rare failure in CI is then diagnosable from the CI log alone.
 */
let failedTests = 0;
afterEach((t) => {
  if (!(t as { passed?: boolean }).passed) failedTests++;
});

/** Re-bundles the CLI and wharfd when tsc (or a change to the C in src/native/) came since (`npx tsc -p .` alone leaves the bundles stale). */
function ensureBundles(): void {
  const mtime = (p: string) => statSync(join(REPO_ROOT, p), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const built = mtime('dist/src/cli/main.js');
  if (mtime('dist/cli/wharf.cjs') < built) execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/bundle-cli.mjs')], { stdio: 'inherit' });
  const daemonStale =
    mtime('dist/daemon/main.js') < mtime('dist/src/daemon/main.js') ||
    mtime('dist/daemon/wharf-spawn') < mtime('src/native/wharf-spawn.c') ||
    // Optional (bundle-daemon leaves it out when node's headers are missing): rebuilt only when stale.
    (existsSync(join(REPO_ROOT, 'dist/daemon/malloc-trim.node')) && mtime('dist/daemon/malloc-trim.node') < mtime('src/native/malloc-trim.c'));
  if (daemonStale) execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/bundle-daemon.mjs')], { stdio: 'inherit' });
}
ensureBundles();

/**
 * Temp dirs go on a real host filesystem (ext4 here): an overlay upper dir cannot live on
 * overlayfs, so /var/tmp is used if /tmp is one. Kept short for unix socket path limits.
 */
async function tmpBase(): Promise<string> {
  if (process.env.WHARF_TEST_TMP) return process.env.WHARF_TEST_TMP;
  const tmp = await statfs('/tmp').catch(() => null);
  return tmp && tmp.type !== OVERLAYFS_MAGIC ? '/tmp' : '/var/tmp';
}
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Kill the command and fail after this long (default 60 s). */
  timeoutMs?: number;
  cwd?: string;
}

export interface StartOptions {
  /** Extra wharfd flags. */
  args?: string[];
  /** Another exec root (default `<root>/exec`); the caller removes it after cleanup. */
  execRoot?: string;
  /** Contents of the daemon.json passed with --config-file (default `{}`, so the host's /etc/wharf is never read). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** How long to wait for /_ping (default 30 s). */
  readyTimeoutMs?: number;
  /** A command that execs wharfd (e.g. `['prlimit', '--nofile=256:256']`); the pid stays wharfd's. */
  prefix?: string[];
  /**
   * Keep wharfd's default address pools (Docker's 172.17.0.0/16…). Otherwise, unless the config
   * sets `bip` or `default-address-pools`, the daemon gets a random 10.x.0.0/16 pool of its own, so
   * daemons started at the same moment (parallel test files) do not pick the same subnet.
   */
  defaultPools?: boolean;
}

export interface Daemon {
  /** Temp dir holding everything below. */
  root: string;
  socket: string;
  /** `unix://<socket>` */
  host: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  configFile: string;
  /** wharfd's stderr (appended across restarts). */
  logFile: string;
  /** Current daemon pid (changes on restart); 0 when not running. */
  pid: number;
  wharf(args: string[], opts?: RunOptions): Promise<RunResult>;
  docker(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** SIGKILL the daemon and wait for it to exit (containers keep running). */
  kill9(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Stop if running, start again on the same dirs, wait until it answers. */
  restart(): Promise<void>;
  /** Every container ID this daemon ever created (seen in its containers/ dir). */
  containerIds(): Set<string>;
  /** The log so far (for failure messages). */
  log(): string;
  cleanup(): Promise<void>;
}

/** Polls `cond` until it returns truthy; throws naming `what` after `timeoutMs` (default 10 s). */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: { timeoutMs?: number; what?: string; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const interval = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Runs a command, collecting its output; rejects on timeout or spawn failure. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\nstdout: ${Buffer.concat(out)}\nstderr: ${Buffer.concat(err)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code: code ?? 128 + (signal ? signalNumber(signal) : 0),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return table[signal] ?? 0;
}

/** GET /_ping on a unix socket; true on 200. */
export function ping(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolvePromise(res.statusCode === 200));
      res.on('error', () => resolvePromise(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolvePromise(false));
    req.end();
  });
}

/**
 * What a hostile test asserts after each attack: the daemon answers /_ping, is still the process
 * `pid` (when given), and nothing reached its process-level safety net ("BUG:" in its log) nor
 * matches `alsoNot`.
 */
export async function assertDaemonAlive(d: Daemon, what: string, opts: { pid?: number; alsoNot?: RegExp } = {}): Promise<void> {
  if (opts.pid !== undefined) assert.equal(d.pid, opts.pid, `${what}: the daemon was restarted`);
  assert.ok(await ping(d.socket), `${what}: /_ping does not answer\n${d.log().slice(-3000)}`);
  assert.doesNotMatch(d.log(), /BUG:/, `${what}: an error escaped its request`);
  if (opts.alsoNot) assert.doesNotMatch(d.log(), opts.alsoNot, `${what}: the daemon logged ${opts.alsoNot}`);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Daemons not yet cleaned up; SIGKILLed if the test process exits without cleanup(). */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
/** Daemons started and not yet cleaned up, for an interrupted run. */
const started = new Set<Daemon>();
// A file stopped by the test runner's timeout (SIGTERM) or by Ctrl-C still removes its daemons,
// containers, mounts, bridges and chains (for at most 20 s), then exits.
for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
  process.once(sig, () => {
    const all = Promise.allSettled([...started].map((d) => d.cleanup()));
    void Promise.race([all, new Promise((r) => setTimeout(r, 20_000))]).finally(() => process.exit(128 + n));
  });
}

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  if (process.getuid?.() !== 0) throw new Error('integration tests must run as root');
  if (!existsSync(DAEMON_MAIN)) throw new Error(`${DAEMON_MAIN} missing: build first (npx tsc -p .)`);
  const base = await tmpBase();
  await mkdir(base, { recursive: true });
  const root = await mkdtemp(join(base, 'wharf-it-'));
  const dataRoot = join(root, 'data');
  const execRoot = opts.execRoot ?? join(root, 'exec');
  const socket = join(root, 'wharf.sock');
  const pidfile = join(root, 'wharf.pid');
  const configFile = join(root, 'daemon.json');
  const logFile = join(root, 'wharfd.log');
  const dockerConfig = join(root, 'docker-config');
  await mkdir(join(dataRoot, 'containers'), { recursive: true, mode: 0o711 });
  await mkdir(dockerConfig, { recursive: true });
  // Each daemon gets its own default bridge (and so its own iptables chains): test daemons never
  // touch a wharfd running on the host, nor each other.
  const bridge = `wt${randomBytes(4).toString('hex')}`;
  const config = opts.config ?? {};
  const ownPool = !opts.defaultPools && !('bip' in config) && !('default-address-pools' in config);
  const pools = ownPool ? { 'default-address-pools': [{ base: `10.${100 + randomInt(100)}.0.0/16`, size: 24 }] } : {};
  await writeFile(configFile, JSON.stringify({ bridge, ...pools, ...config }));

  // Remember every container ID the daemon creates, so cgroup leaks of removed containers are found.
  const ids = new Set<string>();
  const containersDir = join(dataRoot, 'containers');
  const noteIds = async () => {
    for (const name of await readdir(containersDir).catch(() => [] as string[])) if (/^[0-9a-f]{64}$/.test(name)) ids.add(name);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(containersDir, (_event, name) => {
      if (name && /^[0-9a-f]{64}$/.test(String(name))) ids.add(String(name));
    });
    watcher.on('error', () => {});
  } catch {
    watcher = undefined;
  }

  const host = `unix://${socket}`;
  // As the systemd unit and main.js's shebang start wharfd (glibc arenas bounded); a value in the
  // environment wins, so a bench can compare glibc's default.
  const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', PATH: `${SYSTEM_PATH}:${process.env.PATH ?? ''}`, ...opts.env };
  const args = [
    DAEMON_MAIN,
    '--config-file', configFile,
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '-H', host,
    '--pidfile', pidfile,
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const logTail = () => readLog().split('\n').slice(-40).join('\n');

  async function launch(): Promise<void> {
    const fd = openSync(logFile, 'a');
    try {
      const [cmd, ...argv] = [...(opts.prefix ?? []), process.execPath, ...args];
      child = spawn(cmd!, argv, { env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const c = child;
    live.add(c!);
    let gone = false;
    exited = new Promise<void>((res) => {
      c!.on('exit', () => {
        gone = true;
        live.delete(c!);
        res();
      });
    });
    c!.on('error', () => {});
    await waitFor(
      async () => {
        if (gone) throw new Error(`wharfd exited during startup (code ${c!.exitCode}):\n${logTail()}`);
        return ping(socket);
      },
      { timeoutMs: opts.readyTimeoutMs ?? 30_000, what: `wharfd to answer /_ping on ${socket}` },
    ).catch(async (err: Error) => {
      if (!gone) {
        c!.kill('SIGKILL');
        await exited;
      }
      throw new Error(`${err.message}\n--- wharfd log ---\n${logTail()}`);
    });
    d.pid = c!.pid ?? 0;
  }

  async function signalAndWait(signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return true;
    c.kill(signal);
    // Cleared once the daemon is gone: a pending timer would keep the test file's process alive.
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    return done;
  }

  const cliEnv = (extra?: Record<string, string | undefined>) => ({
    DOCKER_HOST: host,
    WHARF_HOST: host,
    DOCKER_CONFIG: dockerConfig,
    PATH: env.PATH,
    ...extra,
  });

  let cleaning: Promise<void> | undefined;
  const d: Daemon = {
    root,
    socket,
    host,
    dataRoot,
    execRoot,
    pidfile,
    configFile,
    logFile,
    pid: 0,
    wharf: (a, o = {}) => runCommand(process.execPath, [CLI_MAIN, ...a], { ...o, env: cliEnv(o.env) }),
    docker: (a, o = {}) => runCommand(DOCKER_CLI, a, { ...o, env: cliEnv(o.env) }),
    async kill9() {
      await signalAndWait('SIGKILL', 10_000);
      d.pid = 0;
    },
    async stop() {
      if (!(await signalAndWait('SIGTERM', 30_000))) {
        await signalAndWait('SIGKILL', 10_000);
        throw new Error(`wharfd did not exit within 30 s of SIGTERM:\n${logTail()}`);
      }
      d.pid = 0;
    },
    async restart() {
      await d.stop();
      await launch();
    },
    containerIds: () => ids,
    log: readLog,
    // One cleanup however often it is asked for: a SIGTERM handler's call must wait for the one under way.
    cleanup: () => (cleaning ??= cleanUp()),
  };

  async function cleanUp(): Promise<void> {
    started.delete(d);
    if (failedTests > 0) process.stderr.write(`--- the end of ${logFile} (a test failed) ---\n${readLog().split('\n').slice(-80).join('\n')}\n---\n`);
    await noteIds();
    if (!(await signalAndWait('SIGTERM', 15_000))) await signalAndWait('SIGKILL', 10_000);
    d.pid = 0;
    watcher?.close();
    await cleanupNetworks(d.dataRoot);
    await cleanupLeftovers(d, ids);
  }

  try {
    await launch();
  } catch (err) {
    watcher?.close();
    await cleanupNetworks(dataRoot).catch(() => {});
    await cleanupLeftovers(d, ids).catch(() => {});
    throw err;
  }
  started.add(d);
  return d;
}

/** Imports the busybox fixture as busybox:latest through the wharf CLI. */
/** Runs the wharf or Docker CLI against `d`, asserting it exits 0; its stdout. */
export async function cliOk(d: Pick<Daemon, 'wharf' | 'docker'>, tool: 'wharf' | 'docker', args: string[], opts?: RunOptions): Promise<string> {
  const r = await d[tool](args, opts);
  assert.equal(r.code, 0, `${tool} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * A daemon with busybox for the tests of one file: started before them, cleaned up after.
 * Returns a getter, as the daemon exists only once the `before` hook ran.
 */
export function sharedDaemon(opts: StartOptions = {}): () => Daemon {
  let d: Daemon | undefined;
  before(async () => {
    d = await startDaemon(opts);
    await loadBusybox(d);
  });
  after(async () => {
    await d?.cleanup();
  });
  return () => d!;
}

export async function loadBusybox(d: Pick<Daemon, 'wharf'>, ref = 'busybox:latest'): Promise<void> {
  const tarball = await buildBusyboxRootfsBuffer();
  const changes = BUSYBOX_IMAGE_CHANGES.flatMap((c) => ['--change', c]);
  const r = await d.wharf(['import', ...changes, '-', ref], { input: tarball, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`wharf import ${ref} failed (${r.code}): ${r.stderr}${r.stdout}`);
}

// ---- leak accounting and cleanup --------------------------------------------------------------

/** Removes the bridges and iptables chains of a stopped daemon (they outlive it on purpose). */
async function cleanupNetworks(dataRoot: string): Promise<void> {
  const dir = join(dataRoot, 'network', 'networks');
  let defaultBridge: string | undefined;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const rec = JSON.parse(await readFile(join(dir, f), 'utf8')) as { Name: string; Driver: string; bridge?: string; sublink?: { parent: string; created: boolean } };
    // A macvlan or ipvlan network's parent made for it (a dummy or a VLAN subinterface).
    if (rec.sublink?.created) await runCommand('ip', ['link', 'del', rec.sublink.parent]);
    if (rec.Driver !== 'bridge' || !rec.bridge) continue;
    if (rec.Name === 'bridge') defaultBridge = rec.bridge;
    await runCommand('ip', ['link', 'del', rec.bridge]);
  }
  // The chains' prefix as the daemon recorded it (a daemon with `bridge: none` has no default bridge).
  const recorded = (await readFile(join(dataRoot, 'network', 'chains'), 'utf8').catch(() => '')).trim();
  const prefix = recorded || (defaultBridge && chainPrefixForBridge(defaultBridge));
  if (prefix) await new Firewall(prefix).destroy();
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

async function mounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      return { mountPoint: unescapeMount(f[4]!), fsType: f[sep + 1] ?? '' };
    });
}

const under = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

async function mountsUnder(dir: string): Promise<string[]> {
  return (await mounts()).map((m) => m.mountPoint).filter((p) => under(p, dir));
}

/** Pids whose command line mentions `needle`, optionally only those whose argv[0] basename is `comm`. */
async function processesMentioning(needle: string, comm?: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(needle)) continue;
    if (comm) {
      const argv0 = cmdline.split('\0')[0] ?? '';
      const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
      if (!argv0.endsWith(`/${comm}`) && argv0 !== comm && !exe.endsWith(`/${comm}`)) continue;
    }
    if (isZombie(pid)) continue;
    out.push(pid);
  }
  return out;
}

const runcRoot = (d: Pick<Daemon, 'execRoot'>) => join(d.execRoot, 'runc');

async function runcContainers(d: Pick<Daemon, 'execRoot'>): Promise<string[]> {
  if (!existsSync(runcRoot(d))) return [];
  const r = await runCommand('runc', ['--root', runcRoot(d), 'list', '-q'], { env: { PATH: SYSTEM_PATH }, timeoutMs: 20_000 });
  if (r.code !== 0) return [];
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** Cgroup directories (v1: every hierarchy's wharf/, v2: wharf/) whose name contains one of `ids`. */
async function cgroupDirs(ids: Set<string>): Promise<string[]> {
  if (ids.size === 0) return [];
  const parents: string[] = [];
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) {
    parents.push(join(base, 'wharf'));
  } else {
    for (const ctrl of await readdir(base).catch(() => [] as string[])) parents.push(join(base, ctrl, 'wharf'));
  }
  const found: string[] = [];
  for (const parent of parents) {
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      for (const id of ids) {
        if (name.includes(id)) {
          found.push(join(parent, name));
          break;
        }
      }
    }
  }
  return found;
}

export interface Leaks {
  /** Mount points under the data root. */
  mounts: number;
  /** conmon processes of this daemon's exec root. */
  conmon: number;
  /** Cgroup dirs named after this daemon's containers. */
  cgroups: number;
  /** Containers runc still knows in <exec-root>/runc. */
  runc: number;
  details: { mounts: string[]; conmon: number[]; cgroups: string[]; runc: string[] };
}

export async function countLeaks(d: Daemon): Promise<Leaks> {
  const ids = d.containerIds();
  for (const name of await readdir(join(d.dataRoot, 'containers')).catch(() => [] as string[])) {
    if (/^[0-9a-f]{64}$/.test(name)) ids.add(name);
  }
  const runc = await runcContainers(d);
  for (const id of runc) ids.add(id);
  const details = {
    // The exec root holds the containers' network namespaces, bound to files.
    mounts: [...(await mountsUnder(d.dataRoot)), ...(await mountsUnder(d.execRoot))],
    conmon: await processesMentioning(d.execRoot, 'conmon'),
    cgroups: await cgroupDirs(ids),
    runc,
  };
  return {
    mounts: details.mounts.length,
    conmon: details.conmon.length,
    cgroups: details.cgroups.length,
    runc: details.runc.length,
    details,
  };
}

/** Removes every trace of a daemon: runc containers, conmon, stray processes, mounts, cgroups, dirs. */
async function cleanupLeftovers(d: Pick<Daemon, 'root' | 'execRoot' | 'dataRoot'>, ids: Set<string>): Promise<void> {
  const problems: string[] = [];
  const env = { PATH: SYSTEM_PATH };
  for (const id of await runcContainers(d)) {
    ids.add(id);
    const r = await runCommand('runc', ['--root', runcRoot(d), 'delete', '--force', id], { env, timeoutMs: 20_000 });
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) problems.push(`runc delete ${id}: ${r.stderr.trim()}`);
  }
  // conmon first, then anything else still referring to the temp dir (e.g. a container's init).
  for (const pid of await processesMentioning(d.execRoot, 'conmon')) killQuietly(pid);
  for (const pid of await processesMentioning(d.root)) killQuietly(pid);
  await waitFor(async () => (await processesMentioning(d.root)).length === 0, { timeoutMs: 10_000, what: 'leftover processes to exit' }).catch(
    (err: Error) => problems.push(err.message),
  );

  const points = (await mountsUnder(d.root)).sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
  for (const p of points) {
    const r = await runCommand('umount', [p], { env, timeoutMs: 20_000 });
    if (r.code !== 0) {
      const lazy = await runCommand('umount', ['-l', p], { env, timeoutMs: 20_000 });
      if (lazy.code !== 0 && (await mountsUnder(p)).includes(p)) problems.push(`umount ${p}: ${lazy.stderr.trim()}`);
    }
  }

  for (const dir of (await cgroupDirs(ids)).sort((a, b) => b.length - a.length)) {
    await removeCgroup(dir).catch((err: Error) => problems.push(`rmdir ${dir}: ${err.message}`));
  }

  await rm(d.root, { recursive: true, force: true }).catch((err: Error) => problems.push(`rm ${d.root}: ${err.message}`));
  if (problems.length) throw new Error(`cleanup of ${d.root} left things behind:\n${problems.join('\n')}`);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** rmdir a cgroup, its children first (cgroup dirs hold only virtual files, so rmdir, not rm -r). */
async function removeCgroup(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeCgroup(join(dir, e.name));
  await waitFor(
    async () => {
      try {
        await rmdir(dir);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
        throw err;
      }
    },
    { timeoutMs: 5_000, what: `cgroup ${dir} to empty` },
  );
}
