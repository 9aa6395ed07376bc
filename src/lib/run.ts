/**
 * The one way the engine runs a system tool to completion (ip, iptables-restore, nsenter, mount,
 * umount, mknod, cp, ps…): argv only, never a shell; optional stdin; stdout collected; one error
 * wording. A failure is a System EngineError (500) that keeps the command, exit status and stderr.
 * (Long-lived processes — conmon, the decompressors, getfattr's stream — are spawned by their
 * modules, which watch them as they run.)
 */
import { spawn } from 'node:child_process';
import { EngineError } from './errors.js';

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
}

/** Runs `file` with `args`; resolves with its stdout (UTF-8) when it exits 0. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const cmd = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // First: a spawn that fails early (EMFILE when the pipes cannot be made) has no stdio and
    // reports only through 'error', which must have a listener or it takes the daemon down.
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new CommandError(cmd, null, '', e.code === 'ENOENT' ? `${file} is not installed` : e.message));
    });
    if (!child.stdout || !child.stderr || !child.stdin) return;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(cmd, code, Buffer.concat(err).toString('utf8')));
    });
    // The tool may exit without reading its input (EPIPE): its exit status tells what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
