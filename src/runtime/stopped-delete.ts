/**
 * What `runc delete` does for a container whose init is gone, without starting runc (a Go binary
 * start, ~10 ms of CPU and ~15 ms on the exit -> die path of every container): runc removes the
 * container's cgroups (each controller's directory, sub-cgroups first), then its state
 * directory. Only when its state shows nothing else for runc to do: the init recorded at create
 * (same pid and start time) is gone, it had a pid namespace of its own (so the kernel ended every
 * other process with it), cgroupfs (no systemd unit to stop), no Intel RDT group, no poststop
 * hook. Anything else, or any failure (a cgroup still busy), returns false and the caller runs
 * `runc delete`, which finishes what is left.
 */
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcStat, type InitProcess } from './init-signal.js';

interface RuncState {
  init_process_pid?: number;
  init_process_start?: number | string;
  cgroup_paths?: Record<string, string>;
  intel_rdt_path?: string;
  config?: {
    namespaces?: Array<{ type?: string; path?: string }>;
    hooks?: { poststop?: unknown[] } | null;
    cgroups?: Record<string, unknown>;
  };
}

export async function deleteStopped(stateDir: string, init: InitProcess): Promise<boolean> {
  let state: RuncState;
  try {
    state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as RuncState;
  } catch {
    return false;
  }
  if (state.init_process_pid !== init.pid || String(state.init_process_start) !== init.startTime) return false;
  const st = await readProcStat(init.pid);
  if (st && st.startTime === init.startTime) return false; // still there (or a zombie not reaped yet)
  const cfg = state.config;
  if (!cfg?.namespaces?.some((ns) => ns.type === 'NEWPID' && !ns.path)) return false;
  if (cfg.hooks?.poststop?.length || state.intel_rdt_path) return false;
  if (Object.entries(cfg.cgroups ?? {}).some(([k, v]) => /systemd/i.test(k) && v)) return false;
  const paths = Object.values(state.cgroup_paths ?? {});
  if (!paths.every((p) => p.startsWith('/sys/fs/cgroup/') && !p.includes('..') && !/\.(slice|scope)(\/|$)/.test(p))) return false;
  const removed = await Promise.all(paths.map((p) => removeCgroup(p)));
  if (removed.includes(false)) return false;
  await rm(stateDir, { recursive: true, force: true });
  return true;
}

/**
 * rmdir of a cgroup and the sub-cgroups the container made, deepest first; false when one is
 * busy. The rmdir comes first: a container rarely makes sub-cgroups, and a cgroup's control
 * files do not keep it, so one call per controller is the usual cost (a readdir only on EBUSY).
 */
async function removeCgroup(path: string): Promise<boolean> {
  const first = await rmdir(path).then(
    () => 'gone',
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 'gone' : err.code === 'EBUSY' || err.code === 'ENOTEMPTY' ? 'busy' : 'failed'),
  );
  if (first !== 'busy') return first === 'gone';
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  const subs = entries.filter((e) => e.isDirectory());
  // Busy with its own processes, not with sub-cgroups.
  if (!subs.length) return false;
  for (const e of subs) if (!(await removeCgroup(join(path, e.name)))) return false;
  try {
    await rmdir(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
