/**
 * The one way the engine runs a system tool to completion (ip, iptables-restore, nsenter, mount,
 * umount, mknod, cp, ps…): argv only, never a shell; optional stdin; stdout collected; one error
 * wording. A failure is a System EngineError (500) that keeps the command, exit status and stderr.
 * (Long-lived processes — conmon, the decompressors — are spawned by their
 * modules, which watch them as they run.)
 */
import { spawn } from 'node:child_process';
import { EngineError } from './errors.js';
import type { RunRequest } from './spawn-frames.js';

export class CommandError extends EngineError {
  constructor(
    /** The command line, for messages only. */
    readonly cmd: string,
    /** Exit status; null when the tool could not be started or was killed by a signal. */
    readonly code: number | null,
    readonly stderr: string,
    detail = stderr.trim() || `exit status ${code}`,
  ) {
    super('System', `${cmd}: ${detail}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** Written to the tool's stdin (closed at once without it). */
  input?: string | Buffer;
  cwd?: string;
  /**
   * Runs the tool inside the network namespace at this path: the spawn helper enters it itself;
   * without the helper, through `nsenter --net=<path> --`.
   */
  netns?: string;
}

/** What running a tool gave: its exit status (null when killed) and output, or why it did not start. */
export interface ToolResult {
  code: number | null;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
  spawnError?: { code?: string; message: string };
}

type Spawner = (req: RunRequest) => Promise<ToolResult>;
let spawner: Spawner | null = null;

/**
 * Has `run` start its tools through `s` (the daemon's spawn helper, spawner.ts, so that its event
 * loop never waits for a fork) instead of spawning them itself.
 */
export function runToolsThrough(s: Spawner): void {
  spawner = s;
}

/** Runs `file` with `args`; resolves with its stdout (UTF-8) when it exits 0. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const cmd = [file, ...args].join(' ');
  const { cwd, netns, input } = opts;
  // Only the helper enters a namespace itself; here nsenter does.
  const q: RunRequest = spawner || !netns ? { file, args, cwd, netns, input } : { file: 'nsenter', args: [`--net=${netns}`, '--', file, ...args], cwd, input };
  return (spawner ?? runToCompletion)(q).then(
    (r) => settle(cmd, file, r),
    (err: Error) => {
      throw new CommandError(cmd, null, '', err.message);
    },
  );
}

/**
 * Spawns the tool here and waits for it: its exit status and output, or why it could not start
 * (what run() does without the daemon's spawn helper). Never rejects.
 */
function runToCompletion(q: RunRequest): Promise<ToolResult> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(q.file, q.args, { cwd: q.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      // Arguments Node refuses before any fork (a NUL byte a client put in an option): this
      // call's error, not an exception thrown through the caller.
      resolve({ code: null, spawnError: { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message } });
      return;
    }
    // First: a spawn that fails early (EMFILE when the pipes cannot be made) has no stdio and
    // reports only through 'error', which must have a listener or it takes the daemon down.
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: null, spawnError: { code: e.code, message: e.message } }));
    if (!child.stdout || !child.stderr || !child.stdin) return;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    // The tool may exit without reading its input (EPIPE): its exit status tells what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(q.input ?? '');
  });
}

function spawnFailure(cmd: string, file: string, e: { code?: string; message: string }): CommandError {
  return new CommandError(cmd, null, '', e.code === 'ENOENT' ? `${file} is not installed` : e.message);
}

/** The stdout of `cmd` (whose program is `file`) when it exited 0; otherwise its CommandError. */
export function settle(cmd: string, file: string, r: ToolResult): string {
  if (r.spawnError) throw spawnFailure(cmd, file, r.spawnError);
  if (r.code === 0) return Buffer.from(r.stdout ?? []).toString('utf8');
  throw new CommandError(cmd, r.code, Buffer.from(r.stderr ?? []).toString('utf8'));
}
