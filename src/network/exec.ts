/** The system tools networking needs (ip, iptables-restore, nsenter), input on stdin, through lib/run.ts. */
import { CommandError, run as runTool } from '../lib/run.js';

export { CommandError };

/** lib/run.ts with the input as a third argument, as the network code calls it. */
export function run(file: string, args: string[], input?: string): Promise<string> {
  return runTool(file, args, input === undefined ? {} : { input });
}

/** `ip -batch -`: several iproute2 commands in one process; `-force` keeps going after an error. */
export function ipBatch(lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<string> {
  const ipArgs = ['-batch', '-', ...(opts.force ? ['-force'] : [])];
  const input = lines.join('\n') + '\n';
  if (opts.netns) return run('nsenter', [`--net=${opts.netns}`, '--', 'ip', ...ipArgs], input);
  return run('ip', ipArgs, input);
}
