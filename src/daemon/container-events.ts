/**
 * The actor of a container event as Docker reports it: the container's labels, then `image`
 * (as the user named it) and `name`, plus the action's own attributes (exitCode, signal, ...).
 */
import type { ContainerRecord } from '../container/container.js';
import type { EventActor } from './events.js';

export function containerActor(rec: ContainerRecord, extra: Record<string, string> = {}): EventActor {
  return {
    ID: rec.ID,
    Attributes: { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? '', name: rec.Name.replace(/^\//, ''), ...extra },
  };
}

/** Docker's execDuration attribute of `die`: whole seconds the process ran. */
export function execDuration(startedAt: string, finishedAt: Date): string {
  const ms = finishedAt.getTime() - Date.parse(startedAt);
  return String(Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0);
}
