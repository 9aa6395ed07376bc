/**
 * The one cleanup of what a container holds while it has a process (runtime state, network,
 * volume mounts, the lifecycle's rootfs reference): used by a failed start (for what it got
 * so far), by exit handling and by remove.
 */
import type { EndpointSettings } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { ContainerCore } from './core.js';
import { netnsFilePath, removeNetnsFile } from '../../network/netns-file.js';
import { shmPath, unmountShm } from './ipc-shm.js';

/** The parts to release; a failed start releases only those it had acquired. */
export interface Held {
  runtime: boolean;
  network: boolean;
  volumes: boolean;
  rootfs: boolean;
  /** A shareable container's host-side /dev/shm (ipc-shm.ts). */
  shm: boolean;
}

export const ALL_HELD: Held = { runtime: true, network: true, volumes: true, rootfs: true, shm: true };

/** Records whose exit handling released everything since their last start: removal need not again. */
const releasedAfterExit = new WeakSet<ContainerRecord>();

/** A start acquires again: what it holds is released by its exit, a failed start or removal. */
export function noteAcquiring(rec: ContainerRecord): void {
  releasedAfterExit.delete(rec);
}

/**
 * Removal's release of the runtime state and network, in case exit handling did not run (never
 * started, a failed start, an exit settled by an earlier daemon); skipped after it did, which
 * saves a runtime delete, a network detach and their file calls on the `--rm` path.
 */
export async function releaseForRemoval(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  if (releasedAfterExit.has(rec)) return;
  await releaseHeld(c, rec, { runtime: true, network: true, volumes: false, rootfs: false, shm: true });
}

/**
 * Releases `held`. Failures are logged: the container must still reach its stopped (or
 * removed) state. After a failed start the runtime state goes first, since its delete kills
 * what the start left running; after an exit (`exited`) the init is gone, so the rest is
 * released side by side (the rootfs mount is the host's, not the container's), the network
 * last: its kernel work (the namespace file's unmount, the veths' deletion) waits on RCU grace
 * periods as the rootfs unmount does, and side by side each slowed the other (an exit's release
 * took 27-38 ms on a bridge against 11-20 ms this way).
 */
export async function releaseHeld(c: ContainerCore, rec: ContainerRecord, held: Held, exited = false): Promise<void> {
  const id = rec.ID;
  let failed = false;
  const logged = (what: string) => (err: unknown) => {
    failed = true;
    c.deps.log(`${what} ${id}: ${err}`);
  };
  const runtime = held.runtime ? c.deps.runtime.delete(id, true).catch(logged('runtime delete')) : undefined;
  if (!exited) await runtime;
  const local = Promise.all([
    runtime,
    held.volumes ? c.deps.volumes?.teardown(rec).catch(logged('volumes teardown')) : undefined,
    held.rootfs ? c.rootfs.release(id).catch(logged('unmount')) : undefined,
    held.shm && rec.HostConfig.IpcMode === 'shareable' ? unmountShm(shmPath(c.deps.store.dir(id))).catch(logged('unmount shm of')) : undefined,
  ]);
  if (exited) await local;
  await Promise.all([local, held.network ? releaseNetwork(c, rec, logged, exited) : undefined]);
  if (exited && !failed) releasedAfterExit.add(rec);
}

/** Resolves once the container's network namespace file of its last exit is gone. */
export function netnsReleased(c: ContainerCore, id: string): Promise<void> {
  return c.netnsReleases.get(id) ?? Promise.resolve();
}

/**
 * Tears down the container's networking and keeps only the endpoint configs, as Docker shows a
 * stopped container. Its process is gone (exited, or killed by the runtime delete before), so
 * its veths are deleted in the background: they are not between an exit and its report. After
 * an exit the namespace file is unmounted in the background too (`netnsReleased` waits for it:
 * a start makes the file again, a `docker rm` answers once it is gone).
 */
async function releaseNetwork(c: ContainerCore, rec: ContainerRecord, logged: (what: string) => (err: unknown) => void, exited: boolean): Promise<void> {
  await c.deps.network.detach(rec.ID, { vethsInBackground: true }).catch(logged('network detach'));
  const file = netnsFilePath(c.deps.settings.execRoot, rec.ID);
  if (exited) {
    const id = rec.ID;
    const done: Promise<void> = removeNetnsFile(file)
      .catch((err) => c.deps.log(`remove netns of ${id}: ${err}`))
      .finally(() => {
        if (c.netnsReleases.get(id) === done) c.netnsReleases.delete(id);
      });
    c.netnsReleases.set(id, done);
  } else {
    await removeNetnsFile(file).catch(logged('remove netns of'));
  }
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(rec.NetworkSettings.Networks ?? {})) {
    networks[name] = { IPAMConfig: ep.IPAMConfig ?? null, Links: ep.Links ?? null, Aliases: ep.Aliases ?? null, NetworkID: ep.NetworkID ?? '', DriverOpts: ep.DriverOpts ?? null };
  }
  rec.NetworkSettings = { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: networks };
}
