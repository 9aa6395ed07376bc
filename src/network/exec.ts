/** Runs the system tools networking needs (ip, iptables-restore, nsenter), input on stdin. */
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${cmd}: ${stderr.trim() || `exit status ${code}`}`);
  }
}

export function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError([file, ...args].join(' '), code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** `ip -batch -`: several iproute2 commands in one process; `-force` keeps going after an error. */
export function ipBatch(lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<string> {
  const ipArgs = ['-batch', '-', ...(opts.force ? ['-force'] : [])];
  const input = lines.join('\n') + '\n';
  if (opts.netns) return run('nsenter', [`--net=${opts.netns}`, '--', 'ip', ...ipArgs], input);
  return run('ip', ipArgs, input);
}
