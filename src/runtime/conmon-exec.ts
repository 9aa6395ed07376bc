/**
 * Runs a process in a running container with conmon in exec mode (`conmon -e`), as podman does:
 * conmon runs `runc exec --detach --process <spec>` and supervises the process, so the daemon is
 * not its parent either.
 *
 * Per exec session, <execDir>/<execId>/ holds process.json (the OCI process), conmon's pid file
 * for the process, the attach socket and ctl fifo (`--full-attach`: in the dir itself), and the
 * exit file `<containerId>` (`--exit-dir` is the session dir, so the container's exit watcher
 * never sees exec exits). The dir is removed when conmon is done.
 *
 * Pipes handed to conmon (socketpairs, which conmon reads and writes like pipes):
 *   fd 3 _OCI_SYNCPIPE    conmon -> daemon: `{"data": pid}` once runc exec succeeded (or
 *                         `{"data": -1|-status, "message": <runc stderr>}`), then `{"data": exitCode}`
 *   fd 4 _OCI_STARTPIPE   daemon -> conmon: one byte lets conmon begin; with --exec-attach a
 *                         second byte lets it run runc exec, after the daemon attached
 *   fd 5 _OCI_ATTACHPIPE  conmon -> daemon: `{"data": 0}` once the attach socket listens
 */
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { systemError } from '../lib/errors.js';
import { startWithPipes } from '../lib/spawner.js';
import { ConmonAttachStream, connectAttachSocket } from './conmon-attach.js';
import { runtimeErrorMessage, setTerminalSize } from './conmon-io.js';
import { isConmonOf } from './conmon-supervision.js';
import { checkRuntimeStrings, ociJson } from './oci-json.js';
import { consoleSocketDir } from './console-socket-dir.js';
import { RuntimeStartError, type AttachStream, type ExecProcess, type RuntimeExecOptions } from './runtime.js';

export interface ConmonExecConfig {
  conmonPath: string;
  runtimePath: string;
  /** The runtime's global arguments (e.g. `--root`), as the container's conmon got them. */
  runtimeArgs: string[];
  /** The daemon's exec root: sessions live in its `exec/`, terminals' console sockets in its `t/`. */
  execRoot: string;
  /** How long to wait for the process to start; default 60 s. */
  startTimeoutMs?: number;
}

interface SyncMessage {
  data: number;
  message?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Starts the process; resolves once it runs (with its stdio connected when `attach`). */
export async function conmonExec(cfg: ConmonExecConfig, o: RuntimeExecOptions): Promise<ExecProcess> {
  if (!/^[A-Za-z0-9_.-]+$/.test(o.execId)) throw systemError(`invalid exec id ${o.execId}`);
  checkRuntimeStrings(o.process, 'runc exec failed');
  const dir = join(cfg.execRoot, 'exec', o.execId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const consoleDir = o.process.terminal ? consoleSocketDir(cfg.execRoot, o.execId) : undefined;
  // Kept until conmon is done: it may accept runc's connection only after reporting the start.
  const dropConsoleDir = async () => {
    if (consoleDir) await rm(consoleDir, { recursive: true, force: true }).catch(() => {});
  };
  const specPath = join(dir, 'process.json');
  const conmonPidFile = join(dir, 'conmon.pid');
  await writeFile(specPath, ociJson(o.process), { mode: 0o600 });

  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.execId,
    '-n', o.id,
    '-r', cfg.runtimePath,
    '-b', dir,
    '-p', join(dir, 'pid'),
    '-P', conmonPidFile,
    '--exit-dir', dir,
    '--full-attach',
    '-l', 'none',
    '--log-level', 'error',
  ];
  for (const a of cfg.runtimeArgs) args.push('--runtime-arg', a);
  if (o.process.terminal) args.push('-t');
  if (o.openStdin) args.push('-i');
  args.push('-e');
  if (o.attach) args.push('--exec-attach');
  args.push('--exec-process-spec', specPath);

  // Started by the spawn helper (lib/spawner.ts) like the container's conmon: a fork from the
  // daemon's large heap would copy its page tables and stall the event loop.
  let fds: Socket[];
  try {
    if (consoleDir) await mkdir(consoleDir, { recursive: true, mode: 0o700 });
    ({ pipes: fds } = await startWithPipes(cfg.conmonPath, args, {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? DEFAULT_PATH,
        _OCI_SYNCPIPE: '3',
        _OCI_STARTPIPE: '4',
        ...(o.attach ? { _OCI_ATTACHPIPE: '5' } : {}),
        ...(consoleDir ? { TMPDIR: consoleDir } : {}),
      },
      // stderr, the sync pipe and the attach pipe are written by conmon; it reads the start pipe.
      pipes: ['read', 'read', 'write', 'read'],
    }));
  } catch (err) {
    await Promise.all([rm(dir, { recursive: true, force: true }), dropConsoleDir()]);
    throw systemError(`starting conmon: ${(err as Error).message}`, err);
  }
  const stderrOut: Readable = fds[0]!;
  const sync = new MessageReader(fds[1]!);
  const start: Writable = fds[2]!;
  const attachPipe = new MessageReader(fds[3]!);
  let stderr = '';
  stderrOut.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  stderrOut.on('error', () => {});
  start.on('error', () => {});

  let stdio: ConmonAttachStream | undefined;
  const fail = async (err: Error): Promise<never> => {
    stdio?.close();
    start.destroy();
    sync.destroy();
    attachPipe.destroy();
    stderrOut.destroy();
    await Promise.all([rm(dir, { recursive: true, force: true }).catch(() => {}), dropConsoleDir()]);
    throw err;
  };
  const conmonFailed = () => {
    const detail = stderr.trim();
    return new RuntimeStartError(detail ? `conmon failed: ${detail}` : 'conmon exited before the exec process started');
  };

  const timeoutMs = cfg.startTimeoutMs ?? 60_000;
  let pid: number;
  try {
    // First byte: conmon may go on (podman moves it into a cgroup before this).
    start.write(Buffer.from([0]));
    if (o.attach) {
      const ready = await withTimeout(attachPipe.next(), timeoutMs);
      if (!ready || ready.data < 0) throw ready?.message ? new RuntimeStartError(runtimeErrorMessage(ready.message)) : conmonFailed();
      stdio = await connectAttachSocket(dir, (msg) => new RuntimeStartError(`cannot attach to the exec session: ${msg}`));
      // Second byte: run the process now that no output can be missed.
      start.write(Buffer.from([0]));
    }
    const started = await withTimeout(sync.next(), timeoutMs);
    if (!started) throw conmonFailed();
    if (started.data <= 0) {
      throw new RuntimeStartError(runtimeErrorMessage(started.message ?? '') || 'exec failed: unknown error');
    }
    pid = started.data;
  } catch (err) {
    // Nothing else ends a conmon stuck waiting on its runc (one blocked on an error write conmon
    // reads only after runc's exit): the container's own cleanup does not know this session.
    if (err instanceof ConmonTimeout) await killConmonGroup(conmonPidFile, o.execId);
    return fail(err as Error);
  }
  start.destroy();
  attachPipe.destroy();

  const exited = (async () => {
    const msg = await sync.next();
    // The sync pipe ends when conmon exits; by then it wrote the exit file too.
    if (msg) await sync.next();
    sync.destroy();
    let code = msg?.data;
    if (code === undefined) {
      const text = await readFile(join(dir, o.id), 'utf8').catch(() => '');
      const n = Number.parseInt(text.trim(), 10);
      code = Number.isNaN(n) ? 255 : n;
    }
    stderrOut.destroy();
    await Promise.all([rm(dir, { recursive: true, force: true }).catch(() => {}), dropConsoleDir()]);
    return code < 0 ? 255 : code;
  })();

  return {
    pid,
    stdio: stdio ? new HeldOutput(stdio) : undefined,
    exited,
    resize: (height, width) => setTerminalSize(dir, conmonPidFile, height, width, (msg) => systemError(`cannot resize exec session: ${msg === 'gone' ? 'process is not running' : msg}`)),
    kill: (signal) => {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    },
  };
}

class ConmonTimeout extends RuntimeStartError {}

/** SIGKILLs the conmon that wrote `pidFile` and its runc: conmon leads a process group of its own. */
async function killConmonGroup(pidFile: string, id: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(await isConmonOf(pid, id))) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new ConmonTimeout('timeout waiting for conmon to start the exec process')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * The process runs (and may be done) before the caller gets to listen: its output is held
 * until the first 'data' listener comes, then replayed on the next tick (after the caller's
 * other listeners are in place).
 */
class HeldOutput extends EventEmitter implements AttachStream {
  private held: Array<['data', 'stdout' | 'stderr', Buffer] | ['end'] | ['error', Error]> | null = [];
  private paused = false;

  constructor(private readonly inner: ConmonAttachStream) {
    super();
    const relay = (ev: ['data', 'stdout' | 'stderr', Buffer] | ['end'] | ['error', Error]) => {
      if (this.held) this.held.push(ev);
      else this.emitEvent(ev);
    };
    inner.on('data', (stream: 'stdout' | 'stderr', chunk: Buffer) => relay(['data', stream, chunk]));
    inner.on('end', () => relay(['end']));
    inner.on('error', (err: Error) => relay(['error', err]));
    inner.on('stdin-drain', () => this.emit('stdin-drain'));
    // Nothing more is read until someone listens: what is held stays a few packets.
    inner.pause();
    this.on('newListener', (event: string) => {
      if (event !== 'data' || !this.held) return;
      process.nextTick(() => {
        const held = this.held ?? [];
        this.held = null;
        for (const ev of held) this.emitEvent(ev);
        if (!this.paused) inner.resume();
      });
    });
  }

  private emitEvent(ev: ['data', 'stdout' | 'stderr', Buffer] | ['end'] | ['error', Error]): void {
    if (ev[0] === 'error' && !this.listenerCount('error')) return;
    this.emit(...(ev as [string, ...unknown[]]));
  }

  writeStdin(chunk: Buffer): boolean {
    return this.inner.writeStdin(chunk);
  }

  release(chunk: Buffer): void {
    this.inner.release(chunk);
  }

  pause(): void {
    this.paused = true;
    this.inner.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.held) this.inner.resume();
  }

  closeStdin(): void {
    this.inner.closeStdin();
  }

  close(): void {
    this.inner.close();
  }
}

/** Newline-separated JSON messages from one of conmon's pipes, in order; null at EOF. */
class MessageReader {
  private buf = '';
  private readonly queue: Array<SyncMessage | null> = [];
  private readonly waiters: Array<(m: SyncMessage | null) => void> = [];
  private ended = false;

  constructor(private readonly stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        try {
          const m = JSON.parse(line) as SyncMessage;
          this.push({ data: Number(m.data), message: m.message });
        } catch {
          this.push({ data: -1, message: line });
        }
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      this.push(null);
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private push(m: SyncMessage | null): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  next(): Promise<SyncMessage | null> {
    if (this.queue.length) {
      const m = this.queue.shift()!;
      // EOF stays EOF for later readers.
      if (m === null) this.queue.unshift(null);
      return Promise.resolve(m);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  destroy(): void {
    this.stream.destroy();
  }
}
