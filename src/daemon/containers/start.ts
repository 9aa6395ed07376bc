/**
 * POST /containers/{id}/start: mount, etc files, user, OCI spec, runtime create -> pending
 * attaches join -> runtime start. A failure undoes what was done (releaseHeld) and records
 * Docker's exit code and message.
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { HostConfig } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { AttachResult } from '../../network/manager.js';
import { ensureWorkingDir } from './working-dir.js';
import { hasProcess, isRunning, setRunning, setStartFailed, stateStatus } from '../../container/state.js';
import { EngineError, conflict, invalidParameter, noSuchContainer, notModified, systemError } from '../../lib/errors.js';
import { shortId } from '../../lib/ids.js';
import { resolveDevices } from '../../runtime/devices.js';
import { RuntimeStartError } from '../../runtime/runtime.js';
import { buildSpec, DEFAULT_SHM_SIZE } from '../../runtime/spec.js';
import { resolveUser } from '../../runtime/user.js';
import { logSizeMax, loggerStartError } from '../log-config.js';
import { connectPendingAttaches, failPendingAttaches } from './attach.js';
import { netnsReleased, noteAcquiring, releaseHeld } from './cleanup.js';
import { mountShm, shmPath } from './ipc-shm.js';
import type { ContainerCore } from './core.js';
import { containerEnv } from './env.js';
import { dnsOverrides, etcPaths, touchEtcFiles, writeEtcFiles } from './etc-files.js';
import { containerActor, networkActors } from './events.js';
import { isContainerMode, shareNetworkIdentity } from './network-mode.js';
import { joinedNamespacePaths } from '../namespace-join.js';
import { removeLocked } from './remove.js';
import { createNetnsFile, netnsFilePath } from '../../network/netns-file.js';

export async function startContainer(c: ContainerCore, ref: string): Promise<void> {
  const rec = c.get(ref);
  await c.lock.run(rec.ID, async () => {
    // Removed (rm -f) while this start waited for the lock.
    if (c.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
    if (rec.State.Paused) throw conflict('cannot start a paused container, try unpause instead');
    if (isRunning(rec.State)) throw notModified();
    if (rec.State.RemovalInProgress || rec.State.Dead) {
      throw conflict('container is marked for removal and cannot be started');
    }
    c.cancelRestartTimer(rec.ID);
    rec.HasBeenManuallyStopped = false;
    c.manager(rec).reset();
    await startLocked(c, rec);
  });
}

/**
 * Starts a container; the caller holds its lock. On failure nothing stays mounted or running.
 * While it runs, c.startSettled(rec) is pending (kill, stop, top and exec wait on it).
 */
export async function startLocked(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  const starting = startNow(c, rec);
  c.starts.set(rec.ID, starting);
  try {
    await starting;
  } finally {
    if (c.starts.get(rec.ID) === starting) c.starts.delete(rec.ID);
  }
}

async function startNow(c: ContainerCore, rec: ContainerRecord): Promise<void> {
  const { runtime, settings } = c.deps;
  const id = rec.ID;
  const held = { rootfs: false, volumes: false, runtime: false, network: false, shm: false };
  noteAcquiring(rec);
  let attaching: Promise<AttachResult> | undefined;
  try {
    const hc = rec.HostConfig;
    if (hc.ExtraHosts?.some((h) => h.endsWith(':host-gateway')) && !c.deps.network.hostGatewayIp()) {
      throw systemError('unable to derive the IP value for host-gateway');
    }
    const loggerError = loggerStartError(rec);
    if (loggerError) throw systemError(loggerError);
    // moby's handleDevice with no device driver registered (no NVIDIA hook, no CDI here): `--gpus`
    // and CDI devices are refused, never dropped.
    const deviceRequest = hc.DeviceRequests?.[0];
    if (deviceRequest) {
      const caps = `[${(deviceRequest.Capabilities ?? []).map((set) => `[${(set ?? []).join(' ')}]`).join(' ')}]`;
      throw invalidParameter(`could not select device driver ${JSON.stringify(deviceRequest.Driver ?? '')} with capabilities: ${caps}`);
    }
    // A namespace of its own on a bridge network: made now as a file, and plumbed (below) while
    // the runtime creates the container in it.
    // Config.NetworkDisabled: a namespace with loopback alone whatever the mode, no endpoint, no /etc files (moby's).
    const networkOff = !!rec.Config.NetworkDisabled;
    const netnsFile = !networkOff && ownsNetns(hc, c.deps.network.bridgeDisabled) ? netnsFilePath(settings.execRoot, id) : undefined;
    // The last exit's file may still be being unmounted (cleanup.ts): the same path is bound again.
    await netnsReleased(c, id);
    const [mounted, netns] = await Promise.allSettled([c.rootfs.acquire(id, { volatile: !!hc.AutoRemove }), netnsFile ? createNetnsFile(netnsFile) : undefined]);
    held.rootfs = mounted.status === 'fulfilled';
    held.network = !!netnsFile && netns.status === 'fulfilled';
    if (mounted.status === 'rejected') throw mounted.reason;
    if (netns.status === 'rejected') throw netns.reason;
    const rootfs = mounted.value;
    const volumeMounts = await c.deps.volumes?.setup(rec, rootfs);
    held.volumes = !!volumeMounts;
    const joined = !networkOff && isContainerMode(hc.NetworkMode) ? c.get(hc.NetworkMode!.slice(10)) : undefined;
    if (joined) shareNetworkIdentity(rec, joined);
    const hostNetwork = !networkOff && hc.NetworkMode === 'host';
    const etcOptions = {
      hostname: rec.Config.Hostname ?? shortId(id),
      domainname: rec.Config.Domainname,
      hostNetwork,
      extraHosts: hc.ExtraHosts ?? undefined,
      ...dnsOverrides(hc, settings.dnsDefaults),
    };
    const etc = etcPaths(c.deps.store.dir(id));
    // With an address (or host-gateway) to come from the network, the content is written once,
    // after attach; the runtime only needs the files to exist for its bind mounts.
    const mode = hc.NetworkMode ?? 'bridge';
    const contentAfterAttach = (!['host', 'none'].includes(mode) && !mode.startsWith('container:')) || !!hc.ExtraHosts?.length;
    // container:<id> mounts the joined container's files (shareNetworkIdentity), written by it.
    if (!joined && !networkOff) await (contentAfterAttach ? touchEtcFiles(etc) : writeEtcFiles(etc, etcOptions));
    const linked = c.links.setup(rec, (cid) => c.records.get(cid));
    const user = await resolveUser(rootfs, rec.Config.User || undefined, hc.GroupAdd ?? undefined);
    const env = containerEnv(rec, user.home, linked.env, c.processEnv.get(id));
    const cwd = rec.Config.WorkingDir || '/';
    await ensureWorkingDir(rootfs, cwd);
    const devs = await resolveDevices(hc);
    const ownShm = hc.IpcMode === 'shareable' ? shmPath(c.deps.store.dir(id)) : undefined;
    if (ownShm) {
      held.shm = true;
      await mountShm(ownShm, hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE);
    }
    const spec = buildSpec({
      id,
      rootfs,
      config: rec.Config,
      hostConfig: hc,
      args: [rec.Path, ...rec.Args],
      env,
      cwd,
      // The host network keeps a UTS namespace of its own (only --uts=host shares the host's).
      hostname: hostNetwork ? rec.Config.Hostname || osHostname() : rec.Config.Hostname,
      domainname: rec.Config.Domainname || undefined,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      etcFiles: networkOff ? {} : { hostname: rec.HostnamePath, hosts: rec.HostsPath, resolvConf: rec.ResolvConfPath },
      network: networkOff ? { kind: 'new' } : netnsFile ? { kind: 'own', path: netnsFile } : networkNamespace(c, id, hc),
      ...joinedNamespacePaths(hc, (ref) => c.get(ref), (donor) => shmPath(c.deps.store.dir(donor.ID))),
      ...(ownShm ? { shmSource: ownShm } : {}),
      cgroupParent: hc.CgroupParent || settings.cgroupParent,
      cgroupVersion: settings.cgroupVersion,
      initPath: hc.Init ? settings.initPath : undefined,
      mounts: volumeMounts?.mounts,
      devices: devs.devices,
      deviceRules: devs.rules,
    });
    if (volumeMounts?.rootfsPropagation) spec.linux.rootfsPropagation = volumeMounts.rootfsPropagation;
    if (hc.Init && !settings.initPath) throw systemError('--init requested but no init binary (tini or catatonit) is installed');
    const bundleDir = join(settings.execRoot, 'bundles', id);
    const attachTo = (netnsPath: string) =>
      c.deps.network.attach({
        containerId: id,
        containerName: rec.Name.slice(1),
        ...(rec.Config.Hostname ? { hostname: rec.Config.Hostname } : {}),
        netnsPath,
        hostConfig: hc,
        exposedPorts: rec.Config.ExposedPorts,
        endpointsConfig: rec.NetworkSettings.Networks,
      });
    if (netnsFile) {
      attaching = attachTo(netnsFile);
      // Awaited below, or in the failure path when the runtime fails first.
      attaching.catch(() => {});
    }
    const { pid } = await runtime.create({
      id,
      bundleDir,
      spec,
      tty: !!rec.Config.Tty,
      openStdin: !!rec.Config.OpenStdin,
      stdinOnce: !!rec.Config.StdinOnce,
      logPath: rec.LogPath,
      logSizeMax: logSizeMax(rec.HostConfig.LogConfig),
    });
    held.runtime = true;
    if (!networkOff) {
      held.network = true;
      const net = await (attaching ?? attachTo(`/proc/${pid}/ns/net`));
      rec.NetworkSettings = net.settings;
      for (const actor of networkActors(rec)) c.deps.events.log('network', 'connect', actor);
      // Written in place: the bind mounts already point at these files.
      if (contentAfterAttach) await writeEtcFiles(etc, { ...etcOptions, ...net.etc, links: linked.hosts });
    }
    await connectPendingAttaches(c, id);
    await runtime.start(id);
    setRunning(rec.State, pid);
    rec.HasBeenStartedBefore = true;
    for (const o of c.deps.observers ?? []) o.started(rec, false);
    await c.save(rec);
    c.deps.events.log('container', 'start', containerActor(rec));
  } catch (err) {
    // An attach still running would plumb after the release: let it finish first.
    await attaching?.catch(() => {});
    await releaseHeld(c, rec, held);
    const engineErr = startError(err);
    setStartFailed(rec.State, engineErr.exitCode, engineErr.error);
    await c.save(rec).catch((saveErr) => c.deps.log(`save ${id}: ${saveErr}`));
    failPendingAttaches(c, id);
    // No exit to report: next-exit waiters keep waiting (the client got the start error), as in Docker.
    if (rec.HostConfig.AutoRemove) await removeLocked(c, rec).catch((rmErr) => c.deps.log(`auto-remove ${id} after a failed start: ${rmErr}`));
    throw engineErr.error;
  }
}

/**
 * Whether the container gets a namespace with interfaces of the daemon's own (a bridge network).
 * With the default bridge disabled, a container on it gets a new namespace with loopback alone
 * (the runtime brings lo up), as moby disables its networking.
 */
function ownsNetns(hc: HostConfig, bridgeDisabled: boolean): boolean {
  const mode = hc.NetworkMode || 'bridge';
  if (bridgeDisabled && (mode === 'bridge' || mode === 'default')) return false;
  return mode !== 'host' && mode !== 'none' && !isContainerMode(mode);
}

function networkNamespace(c: ContainerCore, id: string, hc: HostConfig): { kind: 'new' } | { kind: 'host' } | { kind: 'path'; path: string } {
  const mode = hc.NetworkMode ?? 'bridge';
  if (mode === 'host') return { kind: 'host' };
  if (mode.startsWith('container:')) {
    const other = c.get(mode.slice(10));
    // `--name me --network container:me` is resolved to itself at create; moby refuses it at start.
    if (other.ID === id) throw systemError('cannot join own network namespace');
    if (!hasProcess(other.State)) {
      throw conflict(`cannot join network namespace of a non running container: container ${other.Name.replace(/^\//, '')} is ${stateStatus(other.State)}`);
    }
    return { kind: 'path', path: `/proc/${other.State.Pid}/ns/net` };
  }
  // `none`, and `bridge` until networking lands: a private namespace with loopback only.
  return { kind: 'new' };
}

/** Docker's exit codes and messages for a failed start. */
function startError(err: unknown): { exitCode: number; error: EngineError } {
  if (err instanceof EngineError) return { exitCode: 128, error: err };
  if (err instanceof RuntimeStartError) {
    // Docker's message: its daemon's words, then containerd's shim's, then runc's.
    const msg = `failed to create task for container: failed to create shim task: OCI runtime create failed: ${err.message}: unknown`;
    if (/executable file not found|no such file or directory/.test(err.message)) {
      return { exitCode: 127, error: new EngineError('InvalidParameter', msg) };
    }
    if (/permission denied/.test(err.message)) return { exitCode: 126, error: new EngineError('InvalidParameter', msg) };
    return { exitCode: 128, error: systemError(msg, err) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: 128, error: systemError(message, err) };
}
