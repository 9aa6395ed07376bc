/**
 * `--ipc container:<id>` and `--pid container:<id>` (Docker's IpcMode/PidMode): the container joins
 * the IPC or PID namespace of another running container, as moby's setNamespaces does. The CRI
 * puts a pod's containers into its infra container's namespaces this way.
 */
import type { HostConfig } from '../api/types.js';
import type { ContainerRecord } from '../container/container.js';
import { hasProcess } from '../container/state.js';
import { conflict, invalidParameter } from '../lib/errors.js';

const joinedId = (mode: string | undefined): string | undefined => (mode?.startsWith('container:') ? mode.slice(10) : undefined);

/**
 * The namespace paths of the joined containers, which must exist and run. Checked at start, as
 * moby does (a create-time 404 would read as a missing image to the Docker CLI).
 */
export function joinedNamespacePaths(
  hc: HostConfig,
  get: (ref: string) => ContainerRecord,
  shmOf: (rec: ContainerRecord) => string,
): { ipcNamespacePath?: string; pidNamespacePath?: string; shmSource?: string } {
  const out: { ipcNamespacePath?: string; pidNamespacePath?: string; shmSource?: string } = {};
  const ipc = joinedId(hc.IpcMode);
  if (ipc !== undefined) {
    const other = get(ipc);
    if (!hasProcess(other.State)) throw conflict(`cannot join IPC of a non running container: ${ipc}`);
    // As Docker: only a shareable (or host, or itself joined) IPC namespace may be joined.
    const mode = other.HostConfig.IpcMode ?? '';
    if (mode !== 'shareable' && mode !== 'host' && !mode.startsWith('container:')) {
      throw invalidParameter(`container ${ipc}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    }
    out.ipcNamespacePath = `/proc/${other.State.Pid}/ns/ipc`;
    const shm = donorShm(other, get, shmOf);
    if (shm) out.shmSource = shm;
  }
  const pid = joinedId(hc.PidMode);
  if (pid !== undefined) {
    const other = get(pid);
    if (!hasProcess(other.State)) throw conflict(`joining PID namespace of container ${pid}: container ${other.ID} is not running`);
    out.pidNamespacePath = `/proc/${other.State.Pid}/ns/pid`;
  }
  return out;
}

/** Docker's ShmPath of an IPC donor: its own tmpfs (shareable), the host's (host), or its own donor's. */
function donorShm(rec: ContainerRecord, get: (ref: string) => ContainerRecord, shmOf: (rec: ContainerRecord) => string, depth = 0): string | undefined {
  const mode = rec.HostConfig.IpcMode ?? '';
  if (mode === 'shareable') return shmOf(rec);
  if (mode === 'host') return '/dev/shm';
  const next = joinedId(mode);
  if (next === undefined || depth >= 8) return undefined;
  try {
    return donorShm(get(next), get, shmOf, depth + 1);
  } catch {
    return undefined;
  }
}
