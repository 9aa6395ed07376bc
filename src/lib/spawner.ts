/**
 * The daemon's side of its spawn helper (src/native/wharf-spawn.c, built beside the bundle by
 * scripts/bundle-daemon.mjs): one small C process that starts the tools lib/run.ts asks for, and
 * conmon, with posix_spawn. A spawn from the daemon itself forks it (copying page tables that
 * grow with its heap) and blocks its event loop until the exec; through the helper a tool starts
 * in about a millisecond and never blocks the daemon. The helper is started on first use, never
 * keeps the daemon alive, and is started again if it dies (what was pending then fails). Without
 * the built helper (`node dist/src/daemon/main.js` before a bundle), tools are spawned in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, constants as fsConstants } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { inspect } from 'node:util';
import { builtNative } from './native-path.js';
import { CommandError, run, runToolsThrough, settle, type RunOptions, type ToolResult } from './run.js';
import { encodeDetached, encodeRelease, encodeRun, encodeSyscall, ReplyReader, type HelperReply, type PipeUse, type RunRequest, type SyscallRequest } from './spawn-frames.js';

interface Helper {
  child: ChildProcess;
  pid: number;
}

let helperPath: string | undefined;
let helper: Helper | null = null;
let nextId = 1;
interface Pending {
  resolve: (r: Answered) => void;
  reject: (e: Error) => void;
}
const pending = new Map<number, Pending>();
/** A reply and the helper that sent it (a 'started' reply's fds are that process's). */
type Answered = HelperReply & { from: Helper };

/**
 * From now on lib/run.ts runs tools through the helper. The daemon calls this at start. Returns
 * false, and changes nothing, when the helper is not built.
 */
export function useSpawnHelper(): boolean {
  helperPath = builtNative('wharf-spawn');
  if (!helperPath) return false;
  runToolsThrough(runThroughHelper);
  try {
    ensureHelper();
  } catch {
    // Started again at first use.
  }
  return true;
}

async function runThroughHelper(req: RunRequest): Promise<ToolResult> {
  const refused = nulArgument(req.file, req.args, req.cwd);
  if (refused) return { code: null, spawnError: { code: 'ERR_INVALID_ARG_VALUE', message: refused } };
  const r = await request((id) => encodeRun(id, req));
  if (r.kind === 'exited') return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  if (r.kind === 'failed') return { code: null, spawnError: spawnError(req.file, r.errno) };
  throw new Error(`the spawn helper answered a run with ${r.kind}`);
}

/**
 * One system call made by the helper (spawn-frames.ts, 's'), or without a helper the command
 * `fallback` that does the same. A failure is a CommandError worded as `wording: <errno's text>`
 * (the helper's exit status is the errno), or as the fallback's own.
 */
export async function syscallOrRun(q: SyscallRequest, wording: string, fallback: [string, ...string[]], opts: RunOptions = {}): Promise<void> {
  if (!helperPath) {
    await run(fallback[0], fallback.slice(1), opts);
    return;
  }
  await helperSyscall(q, wording, fallback[0]);
}

/** Whether the daemon runs its tools (and system calls) through the helper. */
export function spawnHelperInUse(): boolean {
  return helperPath !== undefined;
}

/**
 * A system call (or a few, spawn-frames.ts 's') that only the helper makes; callers check
 * spawnHelperInUse() first. Fails as syscallOrRun does, worded after the tool `file`.
 */
export async function helperSyscall(q: SyscallRequest, wording: string, file: string): Promise<void> {
  const r = await request((id) => encodeSyscall(id, q)).catch((err: Error) => {
    throw new CommandError(wording, null, '', err.message);
  });
  if (r.kind === 'failed') throw new CommandError(wording, null, '', `${q.op} ${'target' in q ? q.target : q.ifname}: ${errnoName(r.errno)}`);
  if (r.kind !== 'exited') throw new Error(`the spawn helper answered a system call with ${r.kind}`);
  settle(wording, file, { code: r.code, stderr: r.stderr });
}

export interface StartedWithPipes {
  pid: number;
  /** The daemon's ends of the child's pipes from fd 2 on, in the order asked for. */
  pipes: Socket[];
}

/**
 * Starts a long-lived, detached process (its own session) with stdin and stdout on /dev/null and
 * a pipe on each fd from 2 on (conmon: stderr, its sync pipe…): through the helper when the
 * daemon uses one, else spawned here. It is never waited for; the pipes tell when it is done.
 */
export async function startWithPipes(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; pipes: PipeUse[] }): Promise<StartedWithPipes> {
  if (!helperPath) return startHere(file, args, opts);
  const refused = nulArgument(file, args, opts.cwd, opts.env);
  if (refused) throw Object.assign(new Error(refused), { code: 'ERR_INVALID_ARG_VALUE' });
  const r = await request((id) => encodeDetached(id, { file, args, cwd: opts.cwd, env: opts.env, pipes: opts.pipes }));
  if (r.kind === 'failed') throw Object.assign(new Error(spawnError(file, r.errno).message), { code: errnoName(r.errno) });
  if (r.kind !== 'started') throw new Error(`the spawn helper answered a start with ${r.kind}`);
  // The helper that answered, not whichever runs now: its fds are the ones to open.
  const h = r.from;
  const pipes: Socket[] = [];
  try {
    // Opened again through /proc: a pipe (not a socket) opens like a FIFO, to the same buffer.
    // A write end is opened read-write so that it opens even when the process is already gone.
    for (const [i, fd] of r.fds.entries()) {
      const use = opts.pipes[i];
      const flags = (use === 'read' ? fsConstants.O_RDONLY : fsConstants.O_RDWR) | fsConstants.O_NONBLOCK;
      const own = openSync(`/proc/${h.pid}/fd/${fd}`, flags);
      pipes.push(new Socket({ fd: own, readable: use === 'read', writable: use === 'write' }));
    }
  } catch (err) {
    for (const p of pipes) p.destroy();
    throw err;
  } finally {
    if (h === helper) h.child.stdin?.write(encodeRelease(r.fds));
  }
  return { pid: r.pid, pipes };
}

function startHere(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; pipes: PipeUse[] }): Promise<StartedWithPipes> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'ignore', ...opts.pipes.map(() => 'pipe' as const)] });
    child.on('error', reject);
    child.on('spawn', () => {
      child.unref();
      resolve({ pid: child.pid!, pipes: child.stdio.slice(2) as Socket[] });
    });
  });
}

/** Node's own refusal of a NUL byte inside an argument (which would cut it short in C). */
function nulArgument(file: string, args: string[], cwd?: string, env?: Record<string, string>): string | undefined {
  const bad = (name: string, v: string) => `The ${name} must be a string without null bytes. Received ${inspect(v)}`;
  if (file.includes('\0')) return bad("argument 'file'", file);
  const i = args.findIndex((a) => a.includes('\0'));
  if (i >= 0) return bad(`argument 'args[${i}]'`, args[i]!);
  if (cwd?.includes('\0')) return bad("property 'options.cwd'", cwd);
  for (const [k, v] of Object.entries(env ?? {})) if (`${k}${v}`.includes('\0')) return bad(`property 'options.env['${k}']'`, v);
  return undefined;
}

let errnoNames: Map<number, string> | undefined;
function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** As Node words a spawn that failed: `spawn mount ENOENT`. */
function spawnError(file: string, errno: number): { code: string; message: string } {
  const code = errnoName(errno);
  return { code, message: `spawn ${file} ${code}` };
}

function request(encode: (id: number) => Buffer): Promise<Answered> {
  return new Promise((resolve, reject) => {
    let h: Helper;
    try {
      h = ensureHelper();
    } catch (err) {
      reject(err as Error);
      return;
    }
    const id = nextId++;
    pending.set(id, { resolve, reject });
    keepAliveWhileBusy();
    h.child.stdin!.write(encode(id));
  });
}

function ensureHelper(): Helper {
  if (helper) return helper;
  const child = spawn(helperPath!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  if (child.pid === undefined) {
    // Spawned synchronously or not at all: the 'error' event follows, with nobody waiting yet.
    child.on('error', () => {});
    throw new Error(`the spawn helper ${helperPath} could not be started`);
  }
  const h: Helper = { child, pid: child.pid };
  const gone = (why: string) => {
    if (helper !== h) return;
    helper = null;
    const waiting = [...pending.values()];
    pending.clear();
    for (const p of waiting) p.reject(new Error(`the spawn helper ${why}`));
  };
  child.on('error', (e) => gone(`failed: ${e.message}`));
  child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
  // Writes to a helper that just died: its exit rejects what was pending.
  child.stdin!.on('error', () => {});
  const reader = new ReplyReader();
  child.stdout!.on('data', (chunk: Buffer) => {
    for (const r of reader.push(chunk)) {
      const p = pending.get(r.id);
      if (!p) continue;
      pending.delete(r.id);
      p.resolve({ ...r, from: h });
    }
    keepAliveWhileBusy();
  });
  helper = h;
  keepAliveWhileBusy();
  return h;
}

/** The helper keeps the daemon's event loop alive only while it has work. */
function keepAliveWhileBusy(): void {
  if (!helper) return;
  const { child } = helper;
  const stdout = child.stdout as Socket;
  if (pending.size) {
    child.ref();
    stdout.ref();
  } else {
    child.unref();
    stdout.unref();
  }
}
