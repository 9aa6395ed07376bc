/**
 * Containers that a restart request is stopping (Docker's HasBeenManuallyRestarted): their exit
 * must not remove an --rm container, since the restart starts it again.
 */
import type { ContainerRecord } from '../../container/container.js';

const restarting = new WeakSet<ContainerRecord>();

export function markManualRestart(rec: ContainerRecord): void {
  restarting.add(rec);
}

export function clearManualRestart(rec: ContainerRecord): void {
  restarting.delete(rec);
}

export function isManualRestart(rec: ContainerRecord): boolean {
  return restarting.has(rec);
}
