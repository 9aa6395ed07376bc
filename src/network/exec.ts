/** The system tools networking needs (ip, iptables-restore), input on stdin, through lib/run.ts. */
import { CommandError, run as runTool } from '../lib/run.js';
import { syscallOrRun } from '../lib/spawner.js';

export { CommandError };

/** lib/run.ts with the input as a third argument, as the network code calls it. */
export function run(file: string, args: string[], input?: string): Promise<string> {
  return runTool(file, args, input === undefined ? {} : { input });
}

/** `run` inside the network namespace at `netns` (a bound file or /proc/<pid>/ns/net). */
export function runInNetns(netns: string, file: string, args: string[], input?: string): Promise<string> {
  return runTool(file, args, { netns, ...(input === undefined ? {} : { input }) });
}

/** `ip -batch -`: several iproute2 commands in one process; `-force` keeps going after an error. */
export function ipBatch(lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<string> {
  const ipArgs = ['-batch', '-', ...(opts.force ? ['-force'] : [])];
  const input = lines.join('\n') + '\n';
  return opts.netns ? runInNetns(opts.netns, 'ip', ipArgs, input) : run('ip', ipArgs, input);
}

/**
 * Writes `value` to the sysctl file `path` as the namespace at `netns` sees it. With
 * `ifPresent`, a file the kernel does not have (no IPv6) is skipped. The spawn helper does it
 * with a forked copy of itself; without the helper, a shell under nsenter.
 */
export async function writeSysctlInNetns(netns: string, path: string, value: string, opts: { ifPresent?: boolean } = {}): Promise<void> {
  const script = opts.ifPresent ? 'if [ -w "$1" ]; then echo "$2" > "$1"; fi' : 'echo "$2" > "$1"';
  const ENOENT = 2;
  await syscallOrRun({ op: 'write', netns, target: path, data: value }, `echo ${value} > ${path}`, ['sh', '-c', script, 'sh', path, value], { netns }).catch((err: unknown) => {
    if (!(opts.ifPresent && err instanceof CommandError && err.code === ENOENT)) throw err;
  });
}
