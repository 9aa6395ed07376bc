/**
 * Exec instances (`docker exec`), kept in memory as Docker keeps them: create records the
 * process to run, start runs it in the container through the runtime and relays its stdio,
 * inspect reports it. The process inherits the container's process settings (capabilities,
 * rlimits, no-new-privileges, AppArmor) with its own args, env, cwd, user and terminal.
 * Health probes (daemon/health.ts) run through the same path.
 */
import type { AttachIO } from '../api/backend.js';
import type { ContainerRecord } from '../container/container.js';
import { hasProcess } from '../container/state.js';
import { EngineError, conflict, invalidParameter, isEngineError, notFound, systemError } from '../lib/errors.js';
import { generateId } from '../lib/ids.js';
import type { OciSpec } from '../runtime/oci-spec.js';
import { RuntimeStartError, type ExecProcess, type Runtime } from '../runtime/runtime.js';
import { hostCapabilities } from '../runtime/spec.js';
import { resolveUser, type ResolvedUser } from '../runtime/user.js';
import { parseDetachKeys, pipeAttach } from './attach-session.js';
import { containerActor } from './containers/events.js';
import { containerEnv } from './containers/env.js';
import { replaceOrAppendEnv } from '../lib/env-list.js';
import type { EventSink } from './events.js';
import type { ExecCreateRequest, ExecInspect } from '../api/types.js';
import type { ExecBackend, ExecSession, ExecStartOptions } from '../api/backend.js';

export interface ExecDeps {
  /** The record for a name, ID or unique ID prefix; throws NotFound `No such container: <ref>`. */
  container(ref: string): ContainerRecord;
  /** The record by full ID; undefined once removed. */
  containerById(id: string): ContainerRecord | undefined;
  /** Settles once a start of the container under way has ended (ContainerCore.startSettled). */
  startSettled(rec: ContainerRecord): Promise<void>;
  runtime: Runtime;
  events: EventSink;
  log: (msg: string) => void;
  /** Legacy links' variables of the container (daemon/legacy-links.ts); throws when a target no longer runs. */
  linkEnv?: (rec: ContainerRecord) => string[];
}

interface ExecRecord {
  id: string;
  containerId: string;
  /** StartedAt of the container run the exec belongs to: a restart ends its instances. */
  containerRun: string;
  entrypoint: string;
  args: string[];
  env: string[];
  user: string;
  workingDir: string;
  tty: boolean;
  privileged: boolean;
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  detachKeys: Buffer;
  consoleSize?: [number, number];
  running: boolean;
  exitCode: number | null;
  pid: number;
  canRemove: boolean;
  /** Set once start was called. */
  started: boolean;
  process?: ExecProcess;
  /** Settles when the process runs (or failed to start). */
  startedSignal: Promise<void>;
  signalStarted: () => void;
  /** Settles with the exit code once the process is over (or failed to start). */
  done: Promise<number>;
  signalDone: (code: number) => void;
}

const GC_INTERVAL_MS = 5 * 60_000;

export class ExecService implements ExecBackend {
  private readonly execs = new Map<string, ExecRecord>();
  private readonly gcTimer: NodeJS.Timeout;

  constructor(private readonly deps: ExecDeps) {
    // As Docker: ended instances stay inspectable until a GC pass after they left their container.
    this.gcTimer = setInterval(() => this.gc(), GC_INTERVAL_MS);
    this.gcTimer.unref();
  }

  // ---- create -----------------------------------------------------------------------------

  async create(ref: string, req: ExecCreateRequest): Promise<{ Id: string }> {
    const cmd = req.Cmd ?? [];
    if (cmd.length === 0) throw invalidParameter('No exec command specified');
    const rec = await this.activeContainer(ref);
    const user = req.User || rec.Config.User || '';
    // Docker resolves the user at create, so a bad one fails early.
    if (req.User) await this.resolveExecUser(rec, user);
    let detachKeys: Buffer = Buffer.alloc(0);
    if (req.DetachKeys) {
      try {
        detachKeys = parseDetachKeys(req.DetachKeys);
      } catch {
        throw invalidParameter(`Invalid escape keys (${req.DetachKeys}) provided`);
      }
    }
    const ex = this.newRecord(rec, {
      entrypoint: cmd[0]!,
      args: cmd.slice(1),
      env: req.Env ?? [],
      user,
      workingDir: req.WorkingDir || rec.Config.WorkingDir || '',
      tty: !!req.Tty,
      privileged: !!req.Privileged,
      openStdin: !!req.AttachStdin,
      openStdout: !!req.AttachStdout,
      openStderr: !!req.AttachStderr,
      detachKeys,
      consoleSize: req.Tty && req.ConsoleSize ? [req.ConsoleSize[0], req.ConsoleSize[1]] : undefined,
    });
    return { Id: ex.id };
  }

  private newRecord(
    rec: ContainerRecord,
    o: Pick<ExecRecord, 'entrypoint' | 'args' | 'env' | 'user' | 'workingDir' | 'tty' | 'privileged' | 'openStdin' | 'openStdout' | 'openStderr' | 'detachKeys' | 'consoleSize'>,
  ): ExecRecord {
    let signalStarted!: () => void;
    let signalDone!: (code: number) => void;
    const startedSignal = new Promise<void>((r) => (signalStarted = r));
    const done = new Promise<number>((r) => (signalDone = r));
    const ex: ExecRecord = {
      id: generateId(),
      containerId: rec.ID,
      containerRun: rec.State.StartedAt,
      ...o,
      running: false,
      exitCode: null,
      pid: 0,
      canRemove: false,
      started: false,
      startedSignal,
      signalStarted,
      done,
      signalDone,
    };
    this.execs.set(ex.id, ex);
    this.deps.events.log('container', `exec_create: ${commandLine(ex)}`, containerActor(rec, { execID: ex.id }));
    return ex;
  }

  // ---- start ------------------------------------------------------------------------------

  async start(id: string, opts: ExecStartOptions): Promise<ExecSession | undefined> {
    const ex = this.execConfig(id);
    const consoleSize = opts.consoleSize ?? ex.consoleSize;
    if (opts.detach) {
      const proc = await this.launch(ex, false, consoleSize);
      void proc;
      return undefined;
    }
    return {
      tty: opts.tty,
      stdin: ex.openStdin,
      run: (io) => this.runAttached(ex, io, consoleSize),
    };
  }

  private async runAttached(ex: ExecRecord, io: AttachIO, consoleSize: [number, number] | undefined): Promise<void> {
    const proc = await this.launch(ex, true, consoleSize);
    const stdio = proc.stdio!;
    const how = await pipeAttach(stdio, { ...io, stdin: ex.openStdin ? io.stdin : null }, {
      tty: ex.tty,
      // With a tty conmon's stdin is the terminal itself: closing it would cut the output too.
      stdinOnce: !ex.tty,
      detachKeys: ex.detachKeys.length ? ex.detachKeys : parseDetachKeys(undefined),
      wantStdout: ex.openStdout,
      wantStderr: ex.openStderr,
    });
    // The client reads ExitCode right after the stream ends: record it first. A detached or
    // departed client does not wait for the process.
    if (how === 'output-ended') await ex.done;
  }

  /** Runs the process; throws Docker's errors (and records 126/127) when it cannot start. */
  private async launch(ex: ExecRecord, attach: boolean, consoleSize: [number, number] | undefined): Promise<ExecProcess> {
    if (ex.exitCode !== null) throw conflict(`exec command ${ex.id} has already run`);
    if (ex.running || ex.started) throw conflict(`exec command ${ex.id} is already running`);
    ex.started = true;
    ex.running = true;
    const rec = this.deps.containerById(ex.containerId);
    if (rec) this.deps.events.log('container', `exec_start: ${commandLine(ex)}`, containerActor(rec, { execID: ex.id }));
    let proc: ExecProcess;
    try {
      if (!rec || !hasProcess(rec.State)) throw conflict(`container ${ex.containerId} is not running`);
      const { runtime } = this.deps;
      if (!runtime.exec || !runtime.spec) throw systemError(`the ${runtime.name} runtime cannot exec`);
      const spec = await runtime.spec(rec.ID);
      if (!spec) throw conflict(`container ${rec.ID} is not running`);
      const user = await this.resolveExecUser(rec, ex.user, spec);
      proc = await runtime.exec({
        id: rec.ID,
        execId: ex.id,
        process: this.processSpec(rec, ex, spec, user, consoleSize),
        openStdin: ex.openStdin && attach,
        attach,
      });
    } catch (err) {
      const { error, exitCode } = execStartError(err);
      ex.running = false;
      ex.exitCode = exitCode;
      ex.signalStarted();
      ex.signalDone(exitCode);
      throw error;
    }
    ex.process = proc;
    ex.pid = proc.pid;
    ex.signalStarted();
    void proc.exited.then((code) => this.exited(ex, code));
    return proc;
  }

  private exited(ex: ExecRecord, code: number): void {
    ex.running = false;
    ex.exitCode = code;
    ex.process = undefined;
    const rec = this.deps.containerById(ex.containerId);
    if (rec) this.deps.events.log('container', 'exec_die', containerActor(rec, { execID: ex.id, exitCode: String(code) }));
    ex.signalDone(code);
  }

  /** The container's process with the exec's own args, env, cwd, user and terminal (Docker's ContainerExecStart). */
  private processSpec(rec: ContainerRecord, ex: ExecRecord, spec: OciSpec, user: ResolvedUser, consoleSize: [number, number] | undefined): OciSpec['process'] {
    const base = spec.process;
    const env = replaceOrAppendEnv(containerEnv({ ...rec, Config: { ...rec.Config, Tty: ex.tty } }, user.home, this.deps.linkEnv?.(rec)), ex.env);
    const p: OciSpec['process'] = {
      ...base,
      terminal: ex.tty,
      user: { ...base.user, uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: [ex.entrypoint, ...ex.args],
      env,
      cwd: ex.workingDir || '/',
    };
    delete p.consoleSize;
    if (ex.tty && consoleSize) p.consoleSize = { height: consoleSize[0], width: consoleSize[1] };
    if (ex.privileged) {
      const all = hostCapabilities();
      p.capabilities = { bounding: [...all], effective: [...all], permitted: [...all] };
    }
    return p;
  }

  private async resolveExecUser(rec: ContainerRecord, user: string, spec?: OciSpec): Promise<ResolvedUser> {
    const s = spec ?? (await this.deps.runtime.spec?.(rec.ID));
    if (!s) throw conflict(`container ${rec.ID} is not running`);
    return resolveUser(s.root.path, user || undefined, rec.HostConfig.GroupAdd ?? undefined);
  }

  // ---- resize / inspect -------------------------------------------------------------------

  async resize(id: string, height: number, width: number): Promise<void> {
    const ex = this.execConfig(id);
    // The client may resize right after start: wait for the process (as Docker waits on Started).
    if (!ex.process && ex.exitCode === null) await Promise.race([ex.startedSignal, delay(10_000)]);
    if (!ex.process) throw conflict(`exec ${id} is not running`);
    await ex.process.resize(height, width);
  }

  async inspect(id: string): Promise<ExecInspect> {
    const ex = this.execs.get(id);
    // Removing a container removes its execs with it (moby's cleanup), ended ones included.
    if (!ex || !this.deps.containerById(ex.containerId)) throw notFound(`No such exec instance: ${id}`);
    const out: ExecInspect = {
      ID: ex.id,
      Running: ex.running,
      ExitCode: ex.exitCode,
      ProcessConfig: { tty: ex.tty, entrypoint: ex.entrypoint, arguments: [...ex.args], privileged: ex.privileged },
      OpenStdin: ex.openStdin,
      OpenStderr: ex.openStderr,
      OpenStdout: ex.openStdout,
      CanRemove: ex.canRemove,
      ContainerID: ex.containerId,
      DetachKeys: ex.detachKeys.toString('base64'),
      Pid: ex.pid,
    };
    if (ex.user) out.ProcessConfig.user = ex.user;
    return out;
  }

  idsFor(containerId: string): string[] {
    const rec = this.deps.containerById(containerId);
    if (!rec) return [];
    const out: string[] = [];
    for (const ex of this.execs.values()) {
      if (ex.containerId === containerId && ex.exitCode === null && ex.containerRun === rec.State.StartedAt) out.push(ex.id);
    }
    return out;
  }

  // ---- probes (health checks) -------------------------------------------------------------

  /**
   * Runs `cmd` as the container's user in its working dir, stdout and stderr into `output`,
   * as Docker's health probe does (it is an exec instance like any other). `timeoutMs` counts
   * from the moment the process runs; past it the process is killed and `timedOut` set.
   */
  async probe(
    rec: ContainerRecord,
    cmd: string[],
    output: (chunk: Buffer, stream: 'stdout' | 'stderr') => void,
    timeoutMs: number,
  ): Promise<{ exitCode: number; timedOut: boolean }> {
    if (cmd.length === 0) throw invalidParameter('No exec command specified');
    const ex = this.newRecord(rec, {
      entrypoint: cmd[0]!,
      args: cmd.slice(1),
      env: [],
      user: rec.Config.User ?? '',
      workingDir: rec.Config.WorkingDir ?? '',
      tty: false,
      privileged: false,
      openStdin: false,
      openStdout: true,
      openStderr: true,
      detachKeys: Buffer.alloc(0),
    });
    const proc = await this.launch(ex, true, undefined);
    const stdio = proc.stdio!;
    stdio.on('data', (stream, chunk) => output(chunk, stream));
    const outputEnded = new Promise<void>((r) => stdio.on('end', () => r()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all([ex.done, outputEnded]).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      proc.kill('SIGKILL');
      await ex.done;
      stdio.close();
      return { exitCode: -1, timedOut: true };
    }
    return { exitCode: await ex.done, timedOut: false };
  }

  // ---- lookups ----------------------------------------------------------------------------

  /** Docker's getActiveContainer: exists, runs, not paused, not restarting. */
  private async activeContainer(ref: string): Promise<ContainerRecord> {
    const rec = this.deps.container(ref);
    await this.deps.startSettled(rec);
    if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${ref} is paused, unpause the container before exec`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
    return rec;
  }

  /** Docker's getExecConfig: the instance, and its container still running. */
  private execConfig(id: string): ExecRecord {
    const ex = this.execs.get(id);
    if (!ex) throw notFound(`No such exec instance: ${id}`);
    const rec = this.deps.containerById(ex.containerId);
    if (!rec) throw notFound(`No such container: ${id}`);
    // Docker unregisters a container's execs when it exits (daemon Cleanup): one made in a run
    // that has ended cannot be started or resized, even once the container runs again.
    if (!ex.running && (!rec.State.Running || ex.containerRun !== rec.State.StartedAt)) throw notFound(`No such exec instance: ${id}`);
    if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.ID} is paused, unpause the container before exec`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
    return ex;
  }

  private gc(): void {
    for (const [id, ex] of this.execs) {
      if (ex.running) continue;
      if (ex.canRemove) {
        this.execs.delete(id);
        continue;
      }
      const rec = this.deps.containerById(ex.containerId);
      const live = rec && ex.exitCode === null && ex.containerRun === rec.State.StartedAt && hasProcess(rec.State);
      if (!live) ex.canRemove = true;
    }
  }

  close(): void {
    clearInterval(this.gcTimer);
  }
}

/** Docker's "exec_create: <entrypoint> <args...>" action suffix. */
function commandLine(ex: ExecRecord): string {
  return `${ex.entrypoint} ${ex.args.join(' ')}`;
}

/** Docker's texts and exit codes for an exec that could not start (setExitCodeFromError). */
export function execStartError(err: unknown): { error: EngineError; exitCode: number } {
  if (err instanceof RuntimeStartError) {
    const msg = `OCI runtime exec failed: ${err.message}: unknown`;
    const lower = msg.toLowerCase();
    if (lower.includes('permission denied')) return { error: invalidParameter(msg), exitCode: 126 };
    if (lower.includes('is a directory')) return { error: invalidParameter(`${msg}: permission denied`), exitCode: 126 };
    if (lower.includes('not a directory')) return { error: invalidParameter(msg), exitCode: 127 };
    if (lower.includes('executable file not found') || lower.includes('no such file or directory')) {
      return { error: invalidParameter(msg), exitCode: 127 };
    }
    return { error: new EngineError('System', msg), exitCode: 128 };
  }
  if (isEngineError(err)) return { error: err, exitCode: 126 };
  return { error: systemError(err instanceof Error ? err.message : String(err), err), exitCode: 126 };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
