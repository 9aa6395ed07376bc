/**
 * The OCI runtime behind one interface, so that crun or a containerd backend can be added
 * without touching the rest. The implementation here is conmon + runc (runtime/conmon.ts).
 *
 * conmon supervises each container (it, not the daemon, is the container's parent), so
 * containers survive a daemon restart; the daemon finds them again with `state`/`list` and
 * learns of exits from conmon's exit files.
 */
import type { EventEmitter } from 'node:events';
import type { OciLinuxResources, OciSpec } from './oci-spec.js';
import type { SignalDisposition } from './init-signal.js';

export interface RuntimeCreateOptions {
  id: string;
  /** Directory that will hold config.json (written by the runtime from `spec`). */
  bundleDir: string;
  spec: OciSpec;
  tty: boolean;
  /** Keep stdin open for attach (`-i`). */
  openStdin: boolean;
  /** Close the container's stdin when the first attached client detaches (`StdinOnce`). */
  stdinOnce: boolean;
  /** Container log, written by conmon in the CRI format. */
  logPath: string;
  /** Size in bytes past which the log starts over; unlimited when unset. */
  logSizeMax?: number;
}

export type ProcessStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface ProcessState {
  id: string;
  status: ProcessStatus;
  /** Init process PID on the host; 0 when stopped. */
  pid: number;
}

/** The container's stdio as conmon relays it. */
export interface AttachStream extends EventEmitter {
  /** 'data' (stream: 'stdout' | 'stderr', chunk: Buffer), 'end' when the container's output closes. */
  on(event: 'data', listener: (stream: 'stdout' | 'stderr', chunk: Buffer) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** 'stdin-drain' once input queued after writeStdin answered false has been written. */
  on(event: 'stdin-drain', listener: () => void): this;
  /** Queues input for the process; false when the caller should wait for 'stdin-drain'. */
  writeStdin(chunk: Buffer): boolean;
  /** Stops reading output (the container's writes block once the pipes fill) until resume(). */
  pause(): void;
  resume(): void;
  /** Half-closes the container's stdin (EOF). */
  closeStdin(): void;
  /**
   * The 'data' listener is done with `chunk` (nothing holds it any more): its memory may carry
   * later output. Only a sole listener may call it; a chunk never released is simply collected.
   */
  release(chunk: Buffer): void;
  /** Disconnects this client only; the container keeps running. */
  close(): void;
}

export interface ExitInfo {
  id: string;
  exitCode: number;
  /** When conmon recorded the exit, in nanoseconds since the epoch. */
  finishedAt: bigint;
  /** An OOM happened while it ran (Docker's OOMKilled: not only when it killed the init). */
  oomKilled: boolean;
}

/** One process run inside a running container (`docker exec`). */
export interface RuntimeExecOptions {
  /** The container. */
  id: string;
  /** Names this exec session (Docker's exec ID); its files are kept under it until it ends. */
  execId: string;
  /** The complete OCI process to run (args, env, cwd, user, terminal, capabilities...). */
  process: OciSpec['process'];
  /** Relay the client's input to the process's stdin (`-i`). */
  openStdin: boolean;
  /** Connect the process's stdio before it starts (false for a detached exec: output is discarded). */
  attach: boolean;
}

/** A started exec process. */
export interface ExecProcess {
  /** Host PID of the process. */
  pid: number;
  /** Its stdio, when started with `attach`. */
  stdio?: AttachStream;
  /** Settles with the exit code (128+n for signal n) once the process has exited. */
  exited: Promise<number>;
  /** Sets its TTY size. */
  resize(height: number, width: number): Promise<void>;
  /** Signals the process (e.g. a health probe past its timeout). */
  kill(signal: NodeJS.Signals | number): void;
}

/** Error thrown when the runtime cannot create or start the process; `message` is runc's. */
export class RuntimeStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeStartError';
  }
}

export interface Runtime {
  readonly name: string;
  /**
   * Starts conmon, which runs `<runtime> create`. Resolves with the init PID once the
   * container is created and not yet started. Throws RuntimeStartError with the runtime's
   * message on failure (e.g. `exec: "x": executable file not found in $PATH`), after cleaning
   * up everything it made.
   */
  create(opts: RuntimeCreateOptions): Promise<{ pid: number }>;
  /** `<runtime> start`: runs the user process. */
  start(id: string): Promise<void>;
  /**
   * Sends a signal (number or name, e.g. 'SIGTERM' / 'TERM' / 9) to the init process, or all with
   * `all`. false when the container's process is gone (exited, perhaps deleted since).
   */
  kill(id: string, signal: string | number, all?: boolean): Promise<boolean>;
  /**
   * What the container's init does with `signal` now, when the runtime can tell (an init of its
   * own pid namespace, still the process it started): a namespace's init drops one it leaves at 'default'.
   */
  initSignalDisposition?(id: string, signal: number): Promise<SignalDisposition | undefined>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Applies new cgroup limits to a running container (`runc update`). Optional: not every runtime can. */
  update?(id: string, resources: OciLinuxResources): Promise<void>;
  /** undefined when the runtime does not know the container. */
  state(id: string): Promise<ProcessState | undefined>;
  list(): Promise<ProcessState[]>;
  /** Removes the runtime's record, conmon's files and the bundle's runtime state. */
  delete(id: string, force?: boolean): Promise<void>;
  /** Connects to the container's stdio (conmon attach socket). Only while conmon runs. */
  attach(id: string): Promise<AttachStream>;
  /** Sets the TTY size. */
  resize(id: string, height: number, width: number): Promise<void>;
  /** The exit recorded by conmon, if the container has exited. */
  exitInfo(id: string): Promise<ExitInfo | undefined>;
  /** Called for each container exit seen after `watchExits` was called. */
  watchExits(listener: (exit: ExitInfo) => void): void;
  /** Called for each OOM of a running container's cgroup (its process may run on). */
  watchOoms(listener: (id: string) => void): void;
  /** Stops watching (daemon shutdown); containers keep running. */
  close(): Promise<void>;
  /** The spec the running container was created with (exec inherits its process settings). */
  spec?(id: string): Promise<OciSpec | undefined>;
  /**
   * Runs a process in the running container. Resolves once it runs; throws RuntimeStartError
   * with the runtime's message when it cannot start (e.g. `exec: "x": executable file not found in $PATH`).
   */
  exec?(opts: RuntimeExecOptions): Promise<ExecProcess>;
}
