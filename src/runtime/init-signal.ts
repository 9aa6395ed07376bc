/**
 * What `runc kill <id> KILL` does, without starting runc: runc signals the container's init
 * process after checking, by its pid and the start time recorded in its state, that the pid is
 * still that process (not a pid reused since). The same check against the start time read when
 * the container was created, then kill(2), saves a runc process (a Go binary start, ~5–10 ms of
 * CPU) on every rm -f, kill and stop that ends in SIGKILL.
 *
 * Only for a container with a pid namespace of its own: its init is then the namespace's init,
 * so a signal that ends it ends every process in it, as with runc. A container sharing a
 * namespace (the host's, another container's) is left to runc, whose rules for it differ by version.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A process as /proc/<pid>/stat shows it: its command name, state letter and start time (field 22, in clock ticks since boot). */
export interface ProcStat {
  comm: string;
  state: string;
  startTime: string;
}

/** /proc/<pid>/stat's text parsed; undefined when it cannot be. */
function parsePidStat(text: string): ProcStat | undefined {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields after the last ')'.
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (close < 0 || !state || !startTime || !/^[0-9]+$/.test(startTime)) return undefined;
  return { comm: text.slice(text.indexOf('(') + 1, close), state, startTime };
}

/** undefined when the process is gone (or its stat cannot be read or parsed). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parsePidStat(text);
}

/**
 * readProcStat without the trip through libuv's pool (~1 ms here), for a poll on the run path:
 * procfs answers in microseconds.
 */
export function readProcStatSync(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parsePidStat(text);
}

/** The init process of a container, as recorded when it was created. */
export interface InitProcess {
  pid: number;
  startTime: string;
}

/** The identity to record for init `pid` of a container, or undefined when direct signals are not safe for it. */
export async function recordInit(pid: number, namespaces: ReadonlyArray<{ type: string; path?: string }> | undefined): Promise<InitProcess | undefined> {
  if (!(pid > 0) || !namespaces?.some((ns) => ns.type === 'pid' && !ns.path)) return undefined;
  const st = await readProcStat(pid);
  return st ? { pid, startTime: st.startTime } : undefined;
}

/**
 * Sends `signal` to the init when it is still the recorded process and alive; false when it
 * cannot tell (gone, a zombie, another process by now, an error): the caller then asks runc,
 * which gives its own answer (and message) for a container that is not running.
 */
export async function signalInit(init: InitProcess, signal: number): Promise<boolean> {
  const st = await readProcStat(init.pid);
  if (!st || st.startTime !== init.startTime || st.state === 'Z' || st.state === 'X') return false;
  try {
    process.kill(init.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a process does with `signal`, read from /proc/<pid>/status: 'caught' (a handler),
 * 'ignored', 'blocked' (held until unblocked, so never dropped) or 'default'. A pid namespace's
 * init drops a signal it leaves at the default. undefined when the recorded process is gone or replaced.
 */
export type SignalDisposition = 'caught' | 'ignored' | 'blocked' | 'default';

export async function signalDisposition(init: InitProcess, signal: number): Promise<SignalDisposition | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${init.pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const st = await readProcStat(init.pid);
  if (!st || st.startTime !== init.startTime || st.state === 'Z' || st.state === 'X') return undefined;
  const has = (field: string): boolean | undefined => {
    const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(text)?.[1];
    return hex === undefined ? undefined : ((BigInt(`0x${hex}`) >> BigInt(signal - 1)) & 1n) === 1n;
  };
  const caught = has('SigCgt');
  const ignored = has('SigIgn');
  const blocked = has('SigBlk');
  if (caught === undefined || ignored === undefined || blocked === undefined) return undefined;
  if (caught) return 'caught';
  if (ignored) return 'ignored';
  return blocked ? 'blocked' : 'default';
}
