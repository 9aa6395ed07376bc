/** `runc update` flags for a set of cgroup resources (runc 1.1 accepts these on cgroup v1 and v2). */
import type { OciLinuxResources } from './oci-spec.js';

export function runcUpdateFlags(r: OciLinuxResources): string[] {
  const f: string[] = [];
  const add = (flag: string, v: number | string | undefined) => {
    if (v !== undefined && v !== '') f.push(`--${flag}`, String(v));
  };
  add('memory', r.memory?.limit);
  add('memory-reservation', r.memory?.reservation);
  add('memory-swap', r.memory?.swap);
  add('cpu-share', r.cpu?.shares);
  add('cpu-period', r.cpu?.period);
  add('cpu-quota', r.cpu?.quota);
  add('cpuset-cpus', r.cpu?.cpus);
  add('cpuset-mems', r.cpu?.mems);
  add('pids-limit', r.pids?.limit);
  add('blkio-weight', r.blockIO?.weight);
  return f;
}
