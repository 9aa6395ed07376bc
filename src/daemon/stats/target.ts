/** A container record as the stats collector sees it (read live, so stop/start/rename show). */
import type { ContainerRecord } from '../../container/container.js';
import type { StatsTarget } from './collector.js';

export function containerStatsTarget(rec: ContainerRecord, exists: () => boolean): StatsTarget {
  return {
    id: rec.ID,
    name: () => rec.Name,
    pid: () => (rec.State.Running && !rec.State.Restarting ? rec.State.Pid : 0),
    networkMode: () => rec.HostConfig.NetworkMode ?? 'bridge',
    exists,
  };
}
