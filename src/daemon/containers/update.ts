/**
 * POST /containers/{id}/update (`docker update`): merges the resource limits and the restart
 * policy into the container's HostConfig as Docker's UpdateContainer does (only the fields that
 * are set; its conflict checks and texts), persists it, and applies the resources to a running
 * or paused container through the runtime (`runc update`, cgroup v1 or v2). A failure restores
 * the previous HostConfig: `Cannot update container <id>: <why>`.
 */
import type { HostConfig } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { invalidParameter, isEngineError, systemError } from '../../lib/errors.js';
import type { OciLinuxResources } from '../../runtime/oci-spec.js';
import type { ContainerAccess } from './access.js';
import { validateHostConfig } from './config.js';
import { containerActor } from './events.js';

const CPU_PERIOD = 100_000;

/** The body of POST /containers/{id}/update: Resources plus RestartPolicy. */
export type UpdateConfig = Partial<HostConfig>;

function cannotUpdate(id: string, why: string): Error {
  return invalidParameter(`Cannot update container ${id}: ${why}`);
}

/** Swap as the container has it: Docker stores twice the memory when only memory was given. */
function effectiveSwap(h: HostConfig): number {
  if (h.MemorySwap) return h.MemorySwap;
  return h.Memory && h.Memory > 0 ? h.Memory * 2 : 0;
}

/** Docker's UpdateContainer merge, with its checks. Returns the new HostConfig. */
export function mergeUpdate(current: HostConfig, u: UpdateConfig, id: string): HostConfig {
  const next: HostConfig = { ...current };
  if (u.NanoCpus && u.NanoCpus > 0 && current.CpuPeriod && current.CpuPeriod > 0) {
    throw cannotUpdate(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  }
  if (u.NanoCpus && u.NanoCpus > 0 && current.CpuQuota && current.CpuQuota > 0) {
    throw cannotUpdate(id, 'Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  }
  if (u.CpuPeriod && u.CpuPeriod > 0 && current.NanoCpus && current.NanoCpus > 0) {
    throw cannotUpdate(id, 'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  }
  if (u.CpuQuota && u.CpuQuota > 0 && current.NanoCpus && current.NanoCpus > 0) {
    throw cannotUpdate(id, 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  }
  const numeric = ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'MemoryReservation', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const;
  for (const k of numeric) if (u[k]) (next as Record<string, unknown>)[k] = u[k];
  if (u.CpusetCpus) next.CpusetCpus = u.CpusetCpus;
  if (u.CpusetMems) next.CpusetMems = u.CpusetMems;
  if (u.Memory) {
    if (u.Memory > effectiveSwap(current) && !u.MemorySwap) {
      throw cannotUpdate(id, 'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    next.MemorySwap = effectiveSwap(current);
    next.Memory = u.Memory;
  }
  if (u.MemorySwap) next.MemorySwap = u.MemorySwap;
  if (u.PidsLimit !== undefined && u.PidsLimit !== null) next.PidsLimit = u.PidsLimit;
  if (u.RestartPolicy?.Name) {
    if (current.AutoRemove && u.RestartPolicy.Name !== 'no') {
      throw cannotUpdate(id, 'Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    next.RestartPolicy = { Name: u.RestartPolicy.Name, MaximumRetryCount: u.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  return next;
}

/** The cgroup resources of a HostConfig, as `runc update` takes them (no device rules). */
export function updateResources(h: HostConfig): OciLinuxResources {
  const r: OciLinuxResources = {};
  const memory: NonNullable<OciLinuxResources['memory']> = {};
  if (h.Memory && h.Memory > 0) memory.limit = h.Memory;
  if (h.MemoryReservation && h.MemoryReservation > 0) memory.reservation = h.MemoryReservation;
  const swap = effectiveSwap(h);
  if (swap) memory.swap = swap;
  if (Object.keys(memory).length) r.memory = memory;
  const cpu: NonNullable<OciLinuxResources['cpu']> = {};
  if (h.NanoCpus && h.NanoCpus > 0) {
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.floor((h.NanoCpus * CPU_PERIOD) / 1e9);
  }
  if (h.CpuShares && h.CpuShares > 0) cpu.shares = h.CpuShares;
  if (h.CpuQuota) cpu.quota = h.CpuQuota;
  if (h.CpuPeriod && h.CpuPeriod > 0) cpu.period = h.CpuPeriod;
  if (h.CpusetCpus) cpu.cpus = h.CpusetCpus;
  if (h.CpusetMems) cpu.mems = h.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (h.PidsLimit !== undefined && h.PidsLimit !== null) r.pids = { limit: h.PidsLimit > 0 ? h.PidsLimit : -1 };
  if (h.BlkioWeight && h.BlkioWeight > 0) r.blockIO = { weight: h.BlkioWeight };
  return r;
}

export class ContainerUpdate {
  constructor(private readonly c: ContainerAccess) {}

  async update(ref: string, u: UpdateConfig): Promise<{ Warnings: string[] | null }> {
    const rec = this.c.get(ref);
    // Docker validates the request itself first (verifyContainerSettings): 400 with its text.
    const checked = { ...u } as HostConfig;
    const warnings = validateHostConfig(checked, this.c.deps.settings.ncpu, this.c.deps.settings.sysInfo, true);
    const { RestartPolicy: _policy, ...resources } = checked;
    await this.c.locked(rec.ID, () => this.updateLocked(rec, { ...u, ...(resources as UpdateConfig) }));
    this.c.deps.events.log('container', 'update', containerActor(rec));
    // moby's update answers its nil slice: null when there is nothing to say.
    return { Warnings: warnings.length ? warnings : null };
  }

  private async updateLocked(rec: ContainerRecord, u: UpdateConfig): Promise<void> {
    if (rec.State.RemovalInProgress || rec.State.Dead) {
      throw cannotUpdate(rec.ID, 'container is marked for removal and cannot be "update"');
    }
    const previous = rec.HostConfig;
    const next = mergeUpdate(previous, u, rec.ID);
    rec.HostConfig = next;
    try {
      await this.c.save(rec);
      if (u.RestartPolicy?.Name) this.c.restartPolicyChanged(rec);
      // Stopped (or restarting): the new limits apply at the next start.
      if (!rec.State.Running || rec.State.Restarting) return;
      const runtime = this.c.deps.runtime;
      if (!runtime.update) throw systemError(`runtime ${runtime.name} cannot update resources`);
      await runtime.update(rec.ID, updateResources(next));
    } catch (err) {
      rec.HostConfig = previous;
      await this.c.save(rec).catch((saveErr) => this.c.deps.log(`update ${rec.ID}: restoring HostConfig: ${saveErr}`));
      if (isEngineError(err) && err.message.startsWith('Cannot update container')) throw err;
      throw systemError(`Cannot update container ${rec.ID}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
}
