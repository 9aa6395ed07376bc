/**
 * The actor of a container event as Docker reports it: the container's labels, then `image`
 * (as the user named it) and `name`, plus the action's own attributes (exitCode, signal, ...).
 */
import type { ContainerRecord } from '../../container/container.js';
import type { EventActor } from '../events.js';
import { rfc3339ToNs } from '../../lib/wall-clock.js';

export function containerActor(rec: ContainerRecord, extra: Record<string, string> = {}): EventActor {
  return {
    ID: rec.ID,
    Attributes: { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? '', name: rec.Name.replace(/^\//, ''), ...extra },
  };
}

/** Milliseconds from an RFC 3339 start to an end in nanoseconds since the epoch; NaN when the start does not parse. */
export function ranMs(startedAt: string, finishedAtNs: bigint): number {
  const started = rfc3339ToNs(startedAt);
  return started === undefined ? Number.NaN : Number(finishedAtNs - started) / 1e6;
}

/** Docker's execDuration attribute of `die`: whole seconds of a run of `ms` milliseconds (see ranMs). */
export function execDuration(ms: number): string {
  return String(Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0);
}

/** Docker's driver names of the built-in networks; user networks are bridges here. */
function driverOf(network: string): string {
  return network === 'host' ? 'host' : network === 'none' ? 'null' : 'bridge';
}

/** The actors of the network connect/disconnect events of a container's attached networks. */
export function networkActors(rec: ContainerRecord): EventActor[] {
  return Object.entries(rec.NetworkSettings.Networks ?? {})
    .filter(([, ep]) => !!ep?.NetworkID)
    .map(([name, ep]) => ({ ID: ep.NetworkID!, Attributes: { container: rec.ID, name, type: driverOf(name) } }));
}
