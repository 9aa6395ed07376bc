/**
 * The one cleanup of what a container holds while it has a process (runtime state, network,
 * volume mounts, the lifecycle's rootfs reference): used by a failed start (for what it got
 * so far), by exit handling and by remove.
 */
import type { EndpointSettings } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { ContainerCore } from './core.js';
import { netnsFilePath, removeNetnsFile } from '../../network/netns-file.js';

/** The parts to release; a failed start releases only those it had acquired. */
export interface Held {
  runtime: boolean;
  network: boolean;
  volumes: boolean;
  rootfs: boolean;
}

export const ALL_HELD: Held = { runtime: true, network: true, volumes: true, rootfs: true };

/**
 * Releases `held`. Failures are logged: the container must still reach its stopped (or
 * removed) state. After a failed start the runtime state goes first, since its delete kills
 * what the start left running; after an exit (`exited`) the init is gone, so all of it is
 * released side by side (the rootfs mount is the host's, not the container's).
 */
export async function releaseHeld(c: ContainerCore, rec: ContainerRecord, held: Held, exited = false): Promise<void> {
  const id = rec.ID;
  const runtime = held.runtime ? c.deps.runtime.delete(id, true).catch((err) => c.deps.log(`runtime delete ${id}: ${err}`)) : undefined;
  if (!exited) await runtime;
  await Promise.all([
    runtime,
    held.network ? releaseNetwork(c, rec) : undefined,
    held.volumes ? c.deps.volumes?.teardown(rec).catch((err) => c.deps.log(`volumes teardown ${id}: ${err}`)) : undefined,
    held.rootfs ? c.rootfs.release(id).catch((err) => c.deps.log(`unmount ${id}: ${err}`)) : undefined,
  ]);
}

/** Tears down the container's networking and keeps only the endpoint configs, as Docker shows a stopped container. */
export async function releaseNetwork(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  await c.deps.network.detach(rec.ID).catch((err) => c.deps.log(`network detach ${rec.ID}: ${err}`));
  await removeNetnsFile(netnsFilePath(c.deps.settings.execRoot, rec.ID)).catch((err) => c.deps.log(`remove netns of ${rec.ID}: ${err}`));
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(rec.NetworkSettings.Networks ?? {})) {
    networks[name] = { IPAMConfig: ep.IPAMConfig ?? null, Links: ep.Links ?? null, Aliases: ep.Aliases ?? null, NetworkID: ep.NetworkID ?? '', DriverOpts: ep.DriverOpts ?? null };
  }
  rec.NetworkSettings = { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: networks };
}
