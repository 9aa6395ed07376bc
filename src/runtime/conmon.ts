/**
 * The Runtime implementation: conmon supervises each container and runs runc.
 *
 * conmon (2.1.x, --api-version 1) is started without --sync, so it forks itself away and
 * its parent exits at once: the daemon is never the parent of conmon nor of the container.
 * It reports back through the sync pipe (`_OCI_SYNCPIPE`, fd 3) one JSON line:
 * `{"data": <pid>}` after `runc create` succeeded, or `{"data": -1, "message": <runc stderr>}`.
 * Files conmon keeps for a container <id> (cuuid = id):
 *   <execRoot>/exits/<id>            exit code, written when the container exits (128+n for signal n)
 *   <execRoot>/conmon/<id>.pid       conmon's pid;  <execRoot>/conmon/<id>.bundle -> bundle dir,
 *                                    where conmon (--full-attach) puts:
 *       attach  SOCK_SEQPACKET; frames read are [stream byte 2|3][data], writes go to stdin,
 *               a half-close (SHUT_WR) closes the container's stdin unless --leave-stdin-open
 *       ctl     fifo; `1 <height> <width>\n` resizes the tty
 *       oom     created when the container hit its memory limit
 *   <execRoot>/sockets/<id>          a link to the bundle that conmon made for containers an
 *                                    earlier wharfd started (--socket-dir-path); removed with them
 * conmon keeps the sync socket open while it lives: the daemon keeps its end to notice conmon's
 * death (conmon-supervision.ts), then kills what remains of the container and reports exit 137.
 */
import { accessSync, constants as fsConstants, mkdirSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { basename, delimiter, join } from 'node:path';
import { conflict, invalidParameter, systemError } from '../lib/errors.js';
import { isLinuxSignal, parseSignal } from '../lib/signals.js';
import { sealedBinaryPath } from '../lib/sealed-binary.js';
import { run, type CommandError } from '../lib/run.js';
import { startWithPipes, type StartedWithPipes } from '../lib/spawner.js';
import { connectAttachSocket } from './conmon-attach.js';
import { conmonExec } from './conmon-exec.js';
import { consoleSocketDir } from './console-socket-dir.js';
import { bundleLinkOf, runtimeErrorMessage, setTerminalSize } from './conmon-io.js';
import { checkRuntimeStrings, ociJson } from './oci-json.js';
import { startThroughExecFifo } from './exec-fifo.js';
import { untilRuncInitExeced } from './exec-wait.js';
import { recordInit, signalDisposition, signalInit, type InitProcess, type SignalDisposition } from './init-signal.js';
import { deleteStopped } from './stopped-delete.js';
import { SupervisorWatch, isConmonOf } from './conmon-supervision.js';
import { within } from '../lib/within.js';
import { pathExists } from '../lib/path-exists.js';
import { OomWatch, hadOom } from './oom-watch.js';
import type { OciLinuxResources, OciSpec } from './oci-spec.js';
import { runcUpdateFlags } from './runc-update.js';
import { recursiveReadOnlyError } from './recursive-read-only.js';
import {
  RuntimeStartError,
  type AttachStream,
  type ExecProcess,
  type RuntimeExecOptions,
  type ExitInfo,
  type ProcessState,
  type ProcessStatus,
  type Runtime,
  type RuntimeCreateOptions,
} from './runtime.js';

export interface ConmonRuntimeOptions {
  /** runc (or a runc-compatible runtime); looked up in PATH. Default 'runc'. */
  runtimePath?: string;
  /** Name reported by `name`; default 'runc'. */
  runtimeName?: string;
  /** Extra global arguments for the runtime (before the subcommand). */
  runtimeArgs?: string[];
  /** Default 'conmon'. */
  conmonPath?: string;
  /** runc's --root. */
  stateRoot: string;
  /** Directory for conmon's exit files, attach socket links and pid files. */
  execRoot: string;
  /** Use systemd cgroups (runc --systemd-cgroup, conmon -s). */
  systemdCgroup?: boolean;
  /** conmon --log-size-max (bytes); unlimited when unset. */
  logSizeMax?: number;
  /** Let conmon fsync the log at exit (slower exits); default false. */
  syncLogs?: boolean;
  /** How long create, and an exec's start, wait for conmon's report; default 60 s. */
  createTimeoutMs?: number;
  /** Where to report what the runtime did on its own (a container settled after conmon died). */
  log?: (msg: string) => void;
}

/** The exit code reported for a container whose conmon died: it is killed (128 + SIGKILL). */
const SUPERVISOR_GONE_EXIT_CODE = 137;
const SETTLE_TIMEOUT_MS = 5000;


export class ConmonRuntime implements Runtime {
  readonly name: string;
  private readonly runtimePath: string;
  private readonly conmonPath: string;
  private readonly globalArgs: string[];
  private readonly exitDir: string;
  private readonly socketDir: string;
  private readonly conmonDir: string;
  private readonly listeners: Array<(exit: ExitInfo) => void> = [];
  private watcher?: FSWatcher;
  /** Exit files already reported, by id -> mtime (ns). */
  private readonly reported = new Map<string, bigint>();
  /** Containers being deleted on purpose: their conmon's end is expected. */
  private readonly deleting = new Set<string>();
  /** Init pids of containers created and not yet started (start lets them run through runc's exec fifo). */
  private readonly createdPids = new Map<string, number>();
  /** Init processes of containers this daemon created, for signals without `runc kill` (init-signal.ts). */
  private readonly inits = new Map<string, InitProcess>();
  private readonly supervision = new SupervisorWatch((id) => void this.supervisorGone(id));
  private readonly oomListeners: Array<(id: string) => void> = [];
  private readonly ooms = new OomWatch((id) => {
    for (const l of this.oomListeners) l(id);
  });

  constructor(private readonly opts: ConmonRuntimeOptions) {
    this.name = opts.runtimeName ?? 'runc';
    this.runtimePath = lookPath(opts.runtimePath ?? 'runc');
    this.conmonPath = opts.conmonPath ?? 'conmon';
    this.globalArgs = ['--root', opts.stateRoot, ...(opts.systemdCgroup ? ['--systemd-cgroup'] : []), ...(opts.runtimeArgs ?? [])];
    this.exitDir = join(opts.execRoot, 'exits');
    this.socketDir = join(opts.execRoot, 'sockets');
    this.conmonDir = join(opts.execRoot, 'conmon');
    for (const d of [opts.stateRoot, this.exitDir, this.conmonDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  // ---- create / start -------------------------------------------------------------------

  async create(o: RuntimeCreateOptions): Promise<{ pid: number }> {
    const { id, bundleDir } = o;
    checkRuntimeStrings(o.spec, 'runc create failed');
    await mkdir(bundleDir, { recursive: true, mode: 0o700 });
    await writeFile(join(bundleDir, 'config.json'), ociJson(o.spec));
    const bundleLink = bundleLinkOf(this.opts.execRoot, id);
    await unlink(bundleLink).catch(() => {});
    await unlink(join(this.exitDir, id)).catch(() => {});
    this.reported.delete(id);
    await symlink(bundleDir, bundleLink);

    const args = [
      '--api-version', '1',
      '-c', id,
      '-u', id,
      '-n', id,
      '-r', sealedBinaryPath(this.runtimePath),
      '-b', bundleDir,
      '-p', join(bundleDir, 'pidfile'),
      '-P', this.conmonPidFile(id),
      '--exit-dir', this.exitDir,
      '--full-attach',
      '-l', `k8s-file:${o.logPath}`,
      '--log-level', 'error',
    ];
    for (const a of this.globalArgs) args.push('--runtime-arg', a);
    if (this.opts.systemdCgroup) args.push('-s');
    if (o.tty) args.push('-t');
    if (o.openStdin) {
      args.push('-i');
      if (!o.stdinOnce) args.push('--leave-stdin-open');
    }
    const logSizeMax = o.logSizeMax ?? this.opts.logSizeMax;
    if (logSizeMax && logSizeMax > 0) args.push('--log-size-max', String(logSizeMax));
    if (!this.opts.syncLogs) args.push('--no-sync-log');

    const consoleDir = o.tty ? consoleSocketDir(this.opts.execRoot, id) : undefined;
    try {
      if (consoleDir) await mkdir(consoleDir, { recursive: true, mode: 0o700 });
      const pid = await this.spawnConmon(id, args, bundleDir, consoleDir);
      this.ooms.watch(id, bundleDir);
      this.createdPids.set(id, pid);
      const init = await recordInit(pid, o.spec.linux.namespaces);
      if (init) this.inits.set(id, init);
      else this.inits.delete(id);
      return { pid };
    } catch (err) {
      if (await pathExists(join(this.opts.stateRoot, id))) await this.runc(['delete', '--force', id]).catch(() => {});
      await this.cleanup(id, bundleDir, true);
      throw err;
    }
  }

  /** Starts conmon, waits for its report on the sync pipe; resolves with the container's pid. */
  private async spawnConmon(id: string, args: string[], cwd: string, consoleDir: string | undefined): Promise<number> {
    let started: StartedWithPipes;
    try {
      started = await startWithPipes(this.conmonPath, args, {
        cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          _OCI_SYNCPIPE: '3',
          ...(consoleDir ? { TMPDIR: consoleDir } : {}),
        },
        pipes: ['read', 'read'],
      });
    } catch (err) {
      throw systemError(`starting conmon: ${(err as Error).message}`, err);
    }
    const [errOut, sync] = started.pipes as [Socket, Socket];
    return new Promise<number>((resolve, reject) => {
      let syncBuf = '';
      let stderr = '';
      let done = false;
      const finish = (err: Error | undefined, pid?: number) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        errOut.destroy();
        if (err) {
          sync.destroy();
          reject(err);
        } else {
          this.supervision.watchSocket(id, sync as never);
          resolve(pid!);
        }
      };
      const timer = setTimeout(
        () => finish(new RuntimeStartError(`timeout waiting for conmon to create the container`)),
        this.opts.createTimeoutMs ?? 60_000,
      );
      errOut.on('data', (d: Buffer) => {
        if (stderr.length < 8192) stderr += d.toString();
      });
      sync.on('data', (d: Buffer) => {
        if (done) return;
        syncBuf += d.toString();
        const nl = syncBuf.indexOf('\n');
        if (nl < 0) return;
        let msg: { data?: number; message?: string };
        try {
          msg = JSON.parse(syncBuf.slice(0, nl)) as typeof msg;
        } catch {
          finish(new RuntimeStartError(`bad message from conmon: ${syncBuf.slice(0, nl)}`));
          return;
        }
        if (typeof msg.data === 'number' && msg.data > 0) finish(undefined, msg.data);
        else finish(new RuntimeStartError(runtimeErrorMessage(msg.message ?? '') || 'container create failed'));
      });
      sync.on('end', () => {
        const detail = stderr.trim();
        finish(new RuntimeStartError(detail ? `conmon failed: ${detail}` : 'conmon exited without reporting the container'));
      });
      sync.on('error', () => {});
      errOut.on('error', () => {});
    });
  }

  async start(id: string): Promise<void> {
    const pid = this.createdPids.get(id);
    this.createdPids.delete(id);
    try {
      // Only plain runc keeps its fifo where stateRoot says (runtime args could move its root).
      if (pid !== undefined && this.canSignalDirectly()) await startThroughExecFifo(this.opts.stateRoot, id, pid);
      else await this.runc(['start', id]);
    } catch (err) {
      throw new RuntimeStartError((err as Error).message);
    }
    if (pid !== undefined && basename(this.runtimePath) === 'runc') await untilRuncInitExeced(pid);
  }

  /** Plain runc, whose state and checks these shortcuts mirror (runtime args could move its root). */
  private canSignalDirectly(): boolean {
    return basename(this.runtimePath) === 'runc' && !this.opts.runtimeArgs?.length;
  }

  // ---- signals and state ----------------------------------------------------------------

  async kill(id: string, signal: string | number, all?: boolean): Promise<boolean> {
    const sig = normalizeSignal(signal);
    // SIGKILL only: the kernel delivers it to a pid namespace's init whatever that init does with
    // signals, whereas another signal sent the moment after start could reach the init before it
    // has a handler (e.g. tini's) and be dropped. Any doubt (restored container, shared pid
    // namespace, init gone or replaced) goes to runc.
    const init = this.inits.get(id);
    if (!all && sig === '9' && init && this.canSignalDirectly() && (await signalInit(init, 9))) return true;
    try {
      await this.runc(['kill', ...(all ? ['--all'] : []), id, sig]);
      return true;
    } catch (err) {
      // runc's answers for a process that exited (`not running`; `process already finished` when
      // its state has not caught up yet) and was deleted since (`does not exist`).
      if (/container not running|process already finished|does not exist/.test((err as Error).message)) return false;
      throw err;
    }
  }

  async initSignalDisposition(id: string, signal: number): Promise<SignalDisposition | undefined> {
    const init = this.inits.get(id);
    return init ? signalDisposition(init, signal) : undefined;
  }

  async pause(id: string): Promise<void> {
    await this.runc(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runc(['resume', id]);
  }

  async update(id: string, resources: OciLinuxResources): Promise<void> {
    await this.runc(['update', ...runcUpdateFlags(resources), id]);
  }

  async state(id: string): Promise<ProcessState | undefined> {
    try {
      const out = await this.runc(['state', id]);
      return toState(JSON.parse(out) as Record<string, unknown>);
    } catch (err) {
      if (/does not exist|not exist/.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async list(): Promise<ProcessState[]> {
    const out = await this.runc(['list', '--format', 'json']);
    const arr = JSON.parse(out.trim() || 'null') as Array<Record<string, unknown>> | null;
    return (arr ?? []).map(toState);
  }

  async delete(id: string, force?: boolean): Promise<void> {
    this.createdPids.delete(id);
    this.ooms.forget(id);
    const init = this.canSignalDirectly() ? this.inits.get(id) : undefined;
    this.inits.delete(id);
    this.deleting.add(id);
    const conmonGone = this.supervision.release(id);
    try {
      const bundleDir = await readlink(bundleLinkOf(this.opts.execRoot, id)).catch(() => undefined);
      const stateDir = join(this.opts.stateRoot, id);
      // A container whose init is gone is deleted as runc would, without a runc process (stopped-delete.ts).
      if ((await pathExists(stateDir)) && !(init && (await deleteStopped(stateDir, init)))) {
        await this.runc(['delete', ...(force ? ['--force'] : []), id]).catch((err: Error) => {
          if (!/does not exist/.test(err.message)) throw err;
        });
      }
      await this.cleanup(id, bundleDir, force ?? false, conmonGone);
    } finally {
      this.deleting.delete(id);
      this.supervision.forget(id);
    }
  }

  /**
   * conmon of `id` is gone. If it reported an exit, that is handled as usual; otherwise the
   * container lost its supervisor: kill what remains of it and write the exit file conmon would
   * have written (137), so the exit is handled (and survives a daemon restart) like any other.
   */
  private async supervisorGone(id: string): Promise<void> {
    const exitFile = join(this.exitDir, id);
    if (this.deleting.has(id) || (await pathExists(exitFile))) return;
    if (!(await pathExists(join(this.opts.stateRoot, id)))) return;
    this.opts.log?.(`conmon of container ${id} is gone: killing the container`);
    await this.runc(['kill', '--all', id, 'KILL']).catch(() => this.runc(['kill', id, 'KILL'])).catch(() => undefined);
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
      const st = await this.state(id).catch(() => undefined);
      if (!st || st.status === 'stopped') break;
      await new Promise((r) => setTimeout(r, delay));
    }
    if (this.deleting.has(id) || (await pathExists(exitFile))) return;
    // Written aside and renamed in, as conmon does: the exit watcher ignores names with a dot.
    const tmp = `${exitFile}.supervisor`;
    await writeFile(tmp, String(SUPERVISOR_GONE_EXIT_CODE));
    await rename(tmp, exitFile);
  }

  /** Where conmon writes its own pid (-P) for container `id`. */
  private conmonPidFile(id: string): string {
    return join(this.conmonDir, `${id}.pid`);
  }

  /** Waits for (or, when forced, ends) conmon, then removes every file kept for `id`. */
  private async cleanup(id: string, bundleDir: string | undefined, force: boolean, conmonGone?: Promise<void>): Promise<void> {
    const conmonPid = Number((await readFile(this.conmonPidFile(id), 'utf8').catch(() => '')).trim());
    if (await isConmonOf(conmonPid, id)) {
      // conmon exits by itself once the container is gone; it writes the exit file just before.
      const timeoutMs = force ? 2000 : 5000;
      const gone = conmonGone ? await within(conmonGone, timeoutMs) : await waitGone(conmonPid, timeoutMs);
      if (!gone) {
        try {
          process.kill(conmonPid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await waitGone(conmonPid, 1000);
      }
    }
    const consoleDir = consoleSocketDir(this.opts.execRoot, id);
    await Promise.all([
      rm(this.conmonPidFile(id), { force: true }),
      rm(bundleLinkOf(this.opts.execRoot, id), { force: true }),
      rm(join(this.exitDir, id), { force: true }),
      rm(join(this.socketDir, id), { force: true }),
      bundleDir ? rm(bundleDir, { recursive: true, force: true }) : undefined,
      consoleDir ? rm(consoleDir, { recursive: true, force: true }) : undefined,
    ]);
    this.reported.delete(id);
  }

  // ---- stdio --------------------------------------------------------------------------------

  async attach(id: string): Promise<AttachStream> {
    return connectAttachSocket(bundleLinkOf(this.opts.execRoot, id), (msg) => new Error(`cannot attach to container ${id}: ${msg}`));
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    // A process gone under the call is Docker's errNotRunning (a conflict), as its task lookup answers;
    // so is one whose exit conmon has recorded while it is still finishing (its ctl fifo still open).
    if (await pathExists(join(this.exitDir, id))) throw conflict(`container ${id} is not running`);
    await setTerminalSize(bundleLinkOf(this.opts.execRoot, id), this.conmonPidFile(id), height, width, (msg) =>
      msg === 'gone' ? conflict(`container ${id} is not running`) : systemError(`cannot resize container ${id}: ${msg}`),
    );
  }

  // ---- exec ---------------------------------------------------------------------------------

  async spec(id: string): Promise<OciSpec | undefined> {
    const bundleDir = await readlink(bundleLinkOf(this.opts.execRoot, id)).catch(() => undefined);
    if (!bundleDir) return undefined;
    return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as OciSpec;
  }

  exec(o: RuntimeExecOptions): Promise<ExecProcess> {
    const cfg = {
      conmonPath: this.conmonPath,
      runtimePath: sealedBinaryPath(this.runtimePath),
      runtimeArgs: this.globalArgs,
      execRoot: this.opts.execRoot,
      startTimeoutMs: this.opts.createTimeoutMs,
    };
    return conmonExec(cfg, o);
  }

  // ---- exits --------------------------------------------------------------------------------

  async exitInfo(id: string): Promise<ExitInfo | undefined> {
    const file = join(this.exitDir, id);
    let text: string;
    let mtime: bigint;
    try {
      [text, mtime] = await Promise.all([readFile(file, 'utf8'), stat(file, { bigint: true }).then((s) => s.mtimeNs)]);
    } catch {
      return undefined;
    }
    const code = Number.parseInt(text.trim(), 10);
    const bundleDir = await readlink(bundleLinkOf(this.opts.execRoot, id)).catch(() => undefined);
    const oomKilled = bundleDir ? await hadOom(bundleDir) : false;
    return { id, exitCode: Number.isNaN(code) ? 255 : code < 0 ? 255 : code, finishedAt: mtime, oomKilled };
  }

  watchOoms(listener: (id: string) => void): void {
    this.oomListeners.push(listener);
  }

  watchExits(listener: (exit: ExitInfo) => void): void {
    this.listeners.push(listener);
    if (this.watcher) return;
    this.watcher = watch(this.exitDir, (_event, filename) => {
      if (filename && !filename.includes('.')) void this.checkExit(filename.toString());
    });
    this.watcher.on('error', () => {});
    // Exits that happened before the watch began.
    void readdir(this.exitDir).then((names) => {
      for (const n of names) if (!n.includes('.')) void this.checkExit(n);
    });
    void this.superviseRestored();
  }

  /** conmons started by an earlier daemon: polled (no socket left to watch); dead ones settled now. */
  private async superviseRestored(): Promise<void> {
    const names = await readdir(this.conmonDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.pid')) continue;
      const id = name.slice(0, -4);
      if (await pathExists(join(this.exitDir, id))) continue;
      const pid = Number((await readFile(join(this.conmonDir, name), 'utf8').catch(() => '')).trim());
      if (await isConmonOf(pid, id)) {
        this.supervision.watchPid(id, pid);
        const bundleDir = await readlink(bundleLinkOf(this.opts.execRoot, id)).catch(() => undefined);
        if (bundleDir) this.ooms.watch(id, bundleDir, true);
      } else await this.supervisorGone(id);
    }
  }

  private async checkExit(id: string): Promise<void> {
    const info = await this.exitInfo(id);
    if (!info) return;
    const key = info.finishedAt;
    if (this.reported.get(id) === key) return;
    this.reported.set(id, key);
    for (const l of this.listeners) l(info);
  }

  async close(): Promise<void> {
    this.supervision.close();
    this.ooms.close();
    this.oomListeners.length = 0;
    this.watcher?.close();
    this.watcher = undefined;
    this.listeners.length = 0;
  }

  /** moby's supportsRecursivelyReadOnly for this runtime: undefined when `rro` mounts can be made. */
  recursiveReadOnlyError(): Promise<string | undefined> {
    return recursiveReadOnlyError(this.runtimePath, basename(this.runtimePath));
  }

  // ---- helpers ------------------------------------------------------------------------------

  private runc(args: string[]): Promise<string> {
    return run(this.runtimePath, [...this.globalArgs, ...args]).catch((err: CommandError) => {
      throw new Error(runtimeErrorMessage(err.stderr) || err.message);
    });
  }
}

/** 'KILL' / 'SIGKILL' / 'sigkill' / 9 / '9' -> what runc accepts ('9'); a signal Linux lacks is refused. */
export function normalizeSignal(signal: string | number): string {
  const n = parseSignal(signal);
  if (!isLinuxSignal(n)) throw invalidParameter(`invalid signal: ${signal}`);
  return String(n);
}

function toState(j: Record<string, unknown>): ProcessState {
  const status = String(j.status) as ProcessStatus;
  return {
    id: String(j.id),
    status: (['created', 'running', 'paused', 'stopped'] as const).includes(status as never) ? status : 'stopped',
    pid: status === 'stopped' ? 0 : Number(j.pid ?? 0),
  };
}

function lookPath(cmd: string): string {
  if (cmd.includes('/')) return cmd;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(dir || '.', cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return cmd;
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    // A zombie (reaped by init soon) counts as gone.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat || /\) Z /.test(stat)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}
