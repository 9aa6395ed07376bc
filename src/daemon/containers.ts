/**
 * The container lifecycle: create, start, stop, kill, restart, remove, rename, wait, attach,
 * and what happens when a container exits (restart policies, --rm). Implements the API's
 * ContainerBackend over the stores and the runtime in ContainerDeps.
 */
import { mkdir, readlink, stat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  AttachOptions,
  AttachSession,
  ContainerBackend,
  ContainerListOptions,
  LogsOptions,
  LogsResult,
  WaitCondition,
  WaitHandle,
} from '../api/backend.js';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerTop,
  EndpointSettings,
  Filters,
  HostConfig,
  PruneReport,
  WaitResponse,
} from '../api/types.js';
import { initialState, type ContainerRecord } from '../container/container.js';
import { toInspect } from '../container/inspect.js';
import {
  cancelRestarting,
  hasProcess,
  isRunning,
  nowRFC3339Nano,
  setDead,
  setRemoving,
  setRestarting,
  setRunning,
  setStartFailed,
  setStopped,
  setPaused,
  setUnpaused,
} from '../container/state.js';
import { KeyedSignal } from '../lib/keyed-signal.js';
import { filterContainers, toSummary } from '../container/list.js';
import { readLogs } from '../container/log-reader.js';
import {
  EngineError,
  conflict,
  invalidParameter,
  isEngineError,
  noSuchContainer,
  notModified,
  systemError,
} from '../lib/errors.js';
import { generateId, shortId } from '../lib/ids.js';
import { labelMatches, parseFilterTime } from '../lib/filters.js';
import { KeyedMutex } from '../lib/mutex.js';
import { parseSignal } from '../lib/signals.js';
import { RuntimeStartError, type ExitInfo } from '../runtime/runtime.js';
import { buildSpec } from '../runtime/spec.js';
import { resolveDevices } from '../runtime/devices.js';
import { validateCreateStrings } from './create-strings.js';
import { logAttributes, logSizeMax, validateLogConfig, withDaemonLogDefaults } from './log-config.js';
import { resolveUser } from '../runtime/user.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, pipeAttach } from './attach-session.js';
import { adaptHostConfig, commandOf, effectiveNetworkMode, mergeImageConfig, validateHostConfig } from './container-config.js';
import type { ContainerDeps } from './container-deps.js';
import type { ContainerAccess } from './container-access.js';
import type { NetworkContainerHooks } from './networks.js';
import { etcPaths, touchEtcFiles, writeEtcFiles } from './etc-files.js';
import { containerActor, execDuration, networkActors } from './container-events.js';
import type { StatsOptions, StatsStream } from '../api/stats-types.js';
import { openStatsStream } from './stats/collector.js';
import { containerStatsTarget } from './stats/target.js';
import { isContainerMode, shareNetworkIdentity, validateContainerNetworkMode } from './network-mode.js';
import { RestartManager, policyWantsRestart } from './restart-manager.js';
import { RootfsMounts } from './rootfs-mounts.js';
import { runTop } from './top.js';

const DEFAULT_STOP_TIMEOUT_S = 10;
/** Docker's Kill: how long to wait for the exit after SIGKILL through the runtime, then after a direct SIGKILL. */
const KILL_WAIT_MS = 10_000;
const DIRECT_KILL_WAIT_MS = 2_000;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** An attach made before start: it joins between runtime create and start. */
interface PendingAttach {
  connect(): Promise<void>;
  /** The start failed or the container went away: end the session. */
  cancel(): void;
}

export class ContainerService implements ContainerBackend {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly lock = new KeyedMutex();
  /** Waiters for a container's next exit (Docker's stop waiters: notified on stop and on restarting). */
  private readonly exits = new KeyedSignal<WaitResponse>();
  private readonly removals = new KeyedSignal<WaitResponse>();
  private readonly pendingAttach = new Map<string, Set<PendingAttach>>();
  private readonly restartManagers = new Map<string, RestartManager>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  private readonly rootfs: RootfsMounts;

  constructor(private readonly deps: ContainerDeps) {
    this.rootfs = new RootfsMounts(deps.layers);
  }

  /** Waiters and pending attaches held for clients (the daemon's state dump; zero when idle). */
  listenerCounts(): { exitWaiters: number; removalWaiters: number; pendingAttaches: number } {
    let pendingAttaches = 0;
    for (const set of this.pendingAttach.values()) pendingAttaches += set.size;
    return { exitWaiters: this.exits.size(), removalWaiters: this.removals.size(), pendingAttaches };
  }

  // ---- lookups ------------------------------------------------------------------------

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  private get(ref: string): ContainerRecord {
    let id: string;
    try {
      id = this.deps.names.resolve(ref);
    } catch (err) {
      if (isEngineError(err, 'NotFound')) throw noSuchContainer(ref);
      throw err;
    }
    const rec = this.records.get(id);
    if (!rec) throw noSuchContainer(ref);
    return rec;
  }

  private manager(rec: ContainerRecord): RestartManager {
    let m = this.restartManagers.get(rec.ID);
    if (!m) {
      m = new RestartManager(rec.HostConfig.RestartPolicy ?? {});
      this.restartManagers.set(rec.ID, m);
    }
    return m;
  }

  /** IDs of the containers made from an image, and whether each is running. */
  usingImage(imageId: string): Array<{ id: string; running: boolean }> {
    return this.all()
      .filter((r) => r.Image === imageId)
      .map((r) => ({ id: r.ID, running: isRunning(r.State) }));
  }

  // ---- create -------------------------------------------------------------------------

  async create(name: string | undefined, body: ContainerCreateBody, platform?: string): Promise<ContainerCreateResponse> {
    const { HostConfig: hostConfigIn, NetworkingConfig: networkingConfig, ...userConfig } = body;
    const hostConfig: HostConfig = { ...(hostConfigIn ?? {}) };
    if (!userConfig.Image) throw invalidParameter('Config cannot be empty in order to create a container');
    const warnings = validateHostConfig(hostConfig, this.deps.settings.ncpu, this.deps.settings.sysInfo);
    validateCreateStrings(userConfig, hostConfig);
    const image = await this.deps.images.resolve(userConfig.Image, platform);
    const config = mergeImageConfig(userConfig, image.config.config);
    const { path, args } = commandOf(config);
    hostConfig.NetworkMode = effectiveNetworkMode(hostConfig);
    const settings = this.deps.settings;
    const defaultRuntime = settings.defaultRuntime ?? 'runc';
    adaptHostConfig(hostConfig, { cgroupVersion: settings.cgroupVersion, defaultRuntime, runtimes: settings.runtimes ?? [defaultRuntime] });
    validateContainerNetworkMode(userConfig, hostConfig);
    if (hostConfig.NetworkMode.startsWith('container:')) this.get(hostConfig.NetworkMode.slice(10));
    const endpoints = initialEndpoints(hostConfig.NetworkMode, networkingConfig?.EndpointsConfig);
    this.deps.network.validate(hostConfig, endpoints);
    hostConfig.RestartPolicy ??= { Name: 'no', MaximumRetryCount: 0 };
    if (!hostConfig.RestartPolicy.Name) hostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
    hostConfig.LogConfig = withDaemonLogDefaults(hostConfig.LogConfig, this.deps.settings.logDefaults ?? { Type: 'json-file', Config: {} });
    validateLogConfig(hostConfig.LogConfig);

    const id = generateId();
    const containerName = name ? name.replace(/^\//, '') : this.deps.names.generate();
    this.deps.names.reserve(containerName, id);
    const dir = this.deps.store.dir(id);
    let layerMade = false;
    let mountPoints: ContainerRecord['MountPoints'] | undefined;
    try {
      mountPoints = this.deps.volumes ? await this.deps.volumes.register(id, config, hostConfig, (ref) => this.get(ref)) : {};
      if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? '' : shortId(id);
      config.Image = userConfig.Image;
      // Both settle before any cleanup, so a failed mkdir cannot race a layer still being made.
      const [dirMade, layer] = await Promise.allSettled([
        mkdir(dir, { recursive: true, mode: 0o710 }),
        this.deps.layers.createRWLayer(id, image.topChainId),
      ]);
      layerMade = layer.status === 'fulfilled';
      if (dirMade.status === 'rejected') throw dirMade.reason;
      if (layer.status === 'rejected') throw layer.reason;
      const etc = etcPaths(dir);
      const rec: ContainerRecord = {
        ID: id,
        Name: '/' + containerName,
        Created: nowRFC3339Nano(),
        Path: path,
        Args: args,
        Config: config,
        Image: image.id,
        State: initialState(),
        NetworkSettings: {
          Bridge: '',
          SandboxID: '',
          SandboxKey: '',
          Ports: {},
          Networks: endpoints,
        },
        MountPoints: mountPoints,
        // conmon writes it in the CRI format (k8s-file), not Docker's json-file: named for what it is.
        LogPath: join(dir, `${id}.log`),
        ResolvConfPath: etc.resolvConf,
        HostnamePath: etc.hostname,
        HostsPath: etc.hosts,
        RestartCount: 0,
        HasBeenManuallyStopped: false,
        HasBeenStartedBefore: false,
        Driver: 'overlay2',
        Platform: 'linux',
        HostConfig: hostConfig,
      };
      await this.deps.store.save(rec);
      this.records.set(id, rec);
      this.deps.events.log('container', 'create', containerActor(rec));
    } catch (err) {
      this.deps.names.release(containerName);
      if (mountPoints) await this.deps.volumes?.release({ ID: id, MountPoints: mountPoints } as ContainerRecord, true).catch(() => {});
      if (layerMade) await this.deps.layers.removeRWLayer(id).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    return { Id: id, Warnings: warnings };
  }

  // ---- start --------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const rec = this.get(ref);
    await this.lock.run(rec.ID, async () => {
      // Removed (rm -f) while this start waited for the lock.
      if (this.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
      if (rec.State.Paused) throw conflict('cannot start a paused container, try unpause instead');
      if (isRunning(rec.State)) throw notModified();
      if (rec.State.RemovalInProgress || rec.State.Dead) {
        throw conflict('container is marked for removal and cannot be started');
      }
      this.cancelRestartTimer(rec.ID);
      rec.HasBeenManuallyStopped = false;
      this.manager(rec).reset();
      await this.startLocked(rec);
    });
  }

  /** Starts a container; the caller holds its lock. On failure nothing stays mounted or running. */
  private async startLocked(rec: ContainerRecord): Promise<void> {
    const { runtime, settings } = this.deps;
    const id = rec.ID;
    let mounted = false;
    let volumesUp = false;
    let created = false;
    let attached = false;
    try {
      const rootfs = await this.rootfs.acquire(id);
      mounted = true;
      const volumeMounts = await this.deps.volumes?.setup(rec, rootfs);
      volumesUp = !!volumeMounts;
      const hc = rec.HostConfig;
      const joined = isContainerMode(hc.NetworkMode) ? this.get(hc.NetworkMode!.slice(10)) : undefined;
      if (joined) shareNetworkIdentity(rec, joined);
      const hostNetwork = hc.NetworkMode === 'host';
      const etcOptions = {
        hostname: rec.Config.Hostname ?? shortId(id),
        domainname: rec.Config.Domainname,
        hostNetwork,
        extraHosts: hc.ExtraHosts ?? undefined,
        dns: hc.Dns ?? undefined,
        dnsSearch: hc.DnsSearch ?? undefined,
        dnsOptions: hc.DnsOptions ?? undefined,
      };
      const etc = etcPaths(this.deps.store.dir(id));
      // With an address (or host-gateway) to come from the network, the content is written once,
      // after attach; the runtime only needs the files to exist for its bind mounts.
      const mode = hc.NetworkMode ?? 'bridge';
      const contentAfterAttach = (!['host', 'none'].includes(mode) && !mode.startsWith('container:')) || !!hc.ExtraHosts?.length;
      // container:<id> mounts the joined container's files (shareNetworkIdentity), written by it.
      if (!joined) await (contentAfterAttach ? touchEtcFiles(etc) : writeEtcFiles(etc, etcOptions));
      const user = await resolveUser(rootfs, rec.Config.User || undefined, hc.GroupAdd ?? undefined);
      const env = containerEnv(rec, user.home);
      const cwd = rec.Config.WorkingDir || '/';
      await ensureWorkingDir(rootfs, cwd);
      const devs = await resolveDevices(hc);
      const spec = buildSpec({
        id,
        rootfs,
        config: rec.Config,
        hostConfig: hc,
        args: [rec.Path, ...rec.Args],
        env,
        cwd,
        hostname: hostNetwork ? undefined : rec.Config.Hostname,
        domainname: rec.Config.Domainname || undefined,
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
        etcFiles: { hostname: rec.HostnamePath, hosts: rec.HostsPath, resolvConf: rec.ResolvConfPath },
        network: this.networkNamespace(hc),
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
      created = true;
      attached = true;
      const net = await this.deps.network.attach({
        containerId: id,
        containerName: rec.Name.slice(1),
        netnsPath: `/proc/${pid}/ns/net`,
        hostConfig: hc,
        exposedPorts: rec.Config.ExposedPorts,
        endpointsConfig: rec.NetworkSettings.Networks,
      });
      rec.NetworkSettings = net.settings;
      for (const actor of networkActors(rec)) this.deps.events.log('network', 'connect', actor);
      // Written in place: the bind mounts already point at these files.
      if (contentAfterAttach) await writeEtcFiles(etc, { ...etcOptions, ...net.etc });
      await this.connectPendingAttaches(id);
      await runtime.start(id);
      setRunning(rec.State, pid);
      rec.HasBeenStartedBefore = true;
      for (const o of this.deps.observers ?? []) o.started(rec, false);
      await this.save(rec);
      this.deps.events.log('container', 'start', containerActor(rec));
    } catch (err) {
      if (created) await runtime.delete(id, true).catch(() => {});
      if (attached) await this.releaseNetwork(rec);
      if (volumesUp) await this.deps.volumes?.teardown(rec).catch(() => {});
      if (mounted) await this.rootfs.release(id).catch((unmountErr) => this.deps.log(`unmount ${id}: ${unmountErr}`));
      const engineErr = startError(err);
      setStartFailed(rec.State, engineErr.exitCode, engineErr.error);
      await this.save(rec).catch((saveErr) => this.deps.log(`save ${id}: ${saveErr}`));
      this.failPendingAttaches(id);
      // No exit to report: next-exit waiters keep waiting (the client got the start error), as in Docker.
      if (rec.HostConfig.AutoRemove) await this.removeLocked(rec).catch(() => {});
      throw engineErr.error;
    }
  }

  private networkNamespace(hc: HostConfig): { kind: 'new' } | { kind: 'host' } | { kind: 'path'; path: string } {
    const mode = hc.NetworkMode ?? 'bridge';
    if (mode === 'host') return { kind: 'host' };
    if (mode.startsWith('container:')) {
      const other = this.get(mode.slice(10));
      if (!hasProcess(other.State)) {
        throw conflict(`cannot join network namespace of a non running container: container ${other.ID} is not running`);
      }
      return { kind: 'path', path: `/proc/${other.State.Pid}/ns/net` };
    }
    // `none`, and `bridge` until networking lands: a private namespace with loopback only.
    return { kind: 'new' };
  }

  // ---- exits --------------------------------------------------------------------------

  /** Called by the runtime's exit watcher (and by restore for exits seen while down). */
  async handleExit(exit: ExitInfo): Promise<void> {
    const rec = this.records.get(exit.id);
    if (!rec) {
      await this.deps.runtime.delete(exit.id, true).catch(() => {});
      return;
    }
    await this.lock.run(rec.ID, () => this.handleExitLocked(rec, exit));
  }

  private async handleExitLocked(rec: ContainerRecord, exit: ExitInfo): Promise<void> {
    // Removed while this exit waited for the lock, or an exit already handled.
    if (this.records.get(rec.ID) !== rec || !hasProcess(rec.State)) return;
    for (const o of this.deps.observers ?? []) o.stopped(rec);
    const id = rec.ID;
    const attachedNetworks = networkActors(rec);
    // The processes are gone: runtime state, network and mount can be released side by side.
    await Promise.all([
      this.deps.runtime.delete(id, true).catch((err) => this.deps.log(`runtime delete ${id}: ${err}`)),
      this.releaseNetwork(rec),
      this.rootfs.release(id).catch((err) => this.deps.log(`unmount ${id}: ${err}`)),
      this.deps.volumes?.teardown(rec),
    ]);
    const ranFor = execDuration(rec.State.StartedAt, exit.finishedAt);
    const ranMs = exit.finishedAt.getTime() - Date.parse(rec.State.StartedAt);
    const decision = this.closed
      ? { restart: false, delayMs: 0 }
      : this.manager(rec).shouldRestart(exit.exitCode, rec.HasBeenManuallyStopped, ranMs);
    if (decision.restart) setRestarting(rec.State, exit.exitCode, exit.finishedAt, exit.oomKilled);
    else setStopped(rec.State, exit.exitCode, exit.finishedAt, exit.oomKilled);
    await this.save(rec);
    if (exit.oomKilled) this.deps.events.log('container', 'oom', containerActor(rec));
    this.deps.events.log('container', 'die', containerActor(rec, { exitCode: String(exit.exitCode), execDuration: ranFor }));
    for (const actor of attachedNetworks) this.deps.events.log('network', 'disconnect', actor);
    this.exits.emit(id, { StatusCode: exit.exitCode, Error: null });
    if (decision.restart) {
      this.scheduleRestart(rec, decision.delayMs);
    } else if (rec.HostConfig.AutoRemove && !this.closed) {
      await this.removeLocked(rec).catch((err) => this.deps.log(`auto-remove ${id}: ${err}`));
    }
  }

  private scheduleRestart(rec: ContainerRecord, delayMs: number): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(rec.ID);
      void this.lock
        .run(rec.ID, async () => {
          // A stop, kill or remove cancelled it while this waited for the lock.
          if (!rec.State.Restarting || this.records.get(rec.ID) !== rec || this.manager(rec).isCanceled) return;
          rec.RestartCount++;
          await this.startLocked(rec);
        })
        .catch((err) => this.deps.log(`restart ${rec.ID}: ${err instanceof Error ? err.message : err}`));
    }, delayMs);
    timer.unref();
    this.restartTimers.set(rec.ID, timer);
  }

  private cancelRestartTimer(id: string): boolean {
    const t = this.restartTimers.get(id);
    if (!t) return false;
    clearTimeout(t);
    this.restartTimers.delete(id);
    return true;
  }

  /** Tears down the container's networking and keeps only the endpoint configs, as Docker shows a stopped container. */
  private async releaseNetwork(rec: ContainerRecord): Promise<void> {
    await this.deps.network.detach(rec.ID).catch((err) => this.deps.log(`network detach ${rec.ID}: ${err}`));
    const networks: Record<string, EndpointSettings> = {};
    for (const [name, ep] of Object.entries(rec.NetworkSettings.Networks ?? {})) {
      networks[name] = { IPAMConfig: ep.IPAMConfig ?? null, Links: ep.Links ?? null, Aliases: ep.Aliases ?? null, NetworkID: ep.NetworkID ?? '', DriverOpts: ep.DriverOpts ?? null };
    }
    rec.NetworkSettings = { Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Networks: networks };
  }

  /**
   * Settles at the container's next exit (at once when it has no process). The waiter is
   * registered synchronously, so an exit handled after this call is never missed; cancel()
   * drops it when the caller stops waiting.
   */
  private untilExit(rec: ContainerRecord): { promise: Promise<WaitResponse>; cancel: () => void } {
    if (!hasProcess(rec.State)) return { promise: Promise.resolve({ StatusCode: rec.State.ExitCode, Error: null }), cancel: () => {} };
    return this.exits.next(rec.ID);
  }

  /** Persists a record that is still the container's: a removed container never comes back on disk. */
  private async save(rec: ContainerRecord): Promise<void> {
    if (this.records.get(rec.ID) !== rec) return;
    await this.deps.store.save(rec);
  }

  /**
   * Docker's ExitOnNext: no more restarts. A pending restart is cancelled under the lock, so a
   * restart already starting is waited for (and then has a process to stop); a container that
   * was waiting for its restart is plainly exited, and its stop waiters are told.
   */
  private async endRestarts(rec: ContainerRecord): Promise<void> {
    this.manager(rec).cancel();
    this.cancelRestartTimer(rec.ID);
    await this.lock.run(rec.ID, async () => {
      rec.HasBeenManuallyStopped = true;
      if (rec.State.Restarting) {
        cancelRestarting(rec.State);
        this.exits.emit(rec.ID, { StatusCode: rec.State.ExitCode, Error: null });
      }
      await this.save(rec);
    });
  }

  // ---- stop / kill / restart ------------------------------------------------------------

  async stop(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const rec = this.get(ref);
    if (!isRunning(rec.State)) throw notModified();
    await this.endRestarts(rec);
    if (hasProcess(rec.State)) await this.stopRunning(rec, opts);
    this.deps.events.log('container', 'stop', containerActor(rec));
  }

  private async stopRunning(rec: ContainerRecord, opts: { signal?: string; timeout?: number }): Promise<void> {
    const signal = parseSignal(opts.signal || rec.Config.StopSignal || 'SIGTERM');
    const timeoutS = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
    const exited = this.untilExit(rec);
    try {
      if (rec.State.Paused) await this.deps.runtime.resume(rec.ID).catch((err) => this.deps.log(`resume ${rec.ID}: ${err}`));
      if (timeoutS !== 0) {
        await this.signal(rec, signal);
        if (timeoutS < 0 || (await within(exited.promise, timeoutS * 1000))) return void (await exited.promise);
      }
      await this.killAndWait(rec, exited.promise);
    } finally {
      exited.cancel();
    }
  }

  /**
   * Docker's Kill: SIGKILL through the runtime and wait for the exit; a process still there after
   * 10 s is killed directly, and one that outlives that by 2 s is an error, not a hang.
   */
  private async killAndWait(rec: ContainerRecord, exited: Promise<WaitResponse>): Promise<void> {
    await this.signal(rec, 9);
    if (await within(exited, KILL_WAIT_MS)) return;
    this.deps.log(`container ${rec.ID} did not exit within ${KILL_WAIT_MS / 1000} s of SIGKILL: killing its process directly`);
    if (rec.State.Pid > 0) {
      try {
        process.kill(rec.State.Pid, 'SIGKILL');
      } catch (err) {
        this.deps.log(`kill ${rec.State.Pid}: ${err}`);
      }
    }
    if (!(await within(exited, DIRECT_KILL_WAIT_MS))) throw systemError('tried to kill container, but did not receive an exit event');
  }

  private async signal(rec: ContainerRecord, signal: number): Promise<void> {
    try {
      await this.deps.runtime.kill(rec.ID, signal);
      this.deps.events.log('container', 'kill', containerActor(rec, { signal: String(signal) }));
    } catch (err) {
      // The process may have exited between the check and the signal.
      const st = await this.deps.runtime.state(rec.ID).catch(() => undefined);
      if (st && st.status !== 'stopped') throw err;
    }
  }

  /** Docker's ContainerKill: SIGKILL waits for the exit; other signals are sent and return. */
  async kill(ref: string, signalName?: string): Promise<void> {
    const rec = this.get(ref);
    const signal = parseSignal(signalName || 'SIGKILL');
    if (!isRunning(rec.State)) {
      throw conflict(`cannot kill container: ${ref}: container ${rec.ID} is not running`);
    }
    // SIGKILL, the configured stop signal, or any signal when none is configured ends the restart policy.
    const stopSignal = rec.Config.StopSignal ? parseSignal(rec.Config.StopSignal) : undefined;
    const stops = signal === 9 || stopSignal === undefined || stopSignal === signal;
    if (stops) await this.endRestarts(rec);
    else if (rec.State.Restarting) return;
    if (!hasProcess(rec.State)) return;
    const exited = signal === 9 ? this.untilExit(rec) : undefined;
    try {
      await this.signal(rec, signal);
      // Docker thaws a paused container after a stopping signal so that it is delivered.
      if (rec.State.Paused && stops) {
        await this.deps.runtime.resume(rec.ID).catch((err) => this.deps.log(`resume ${rec.ID}: ${err}`));
        if (hasProcess(rec.State) && rec.State.Paused) setUnpaused(rec.State);
      }
      if (exited) await this.killAndWait(rec, exited.promise);
    } finally {
      exited?.cancel();
    }
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const rec = this.get(ref);
    if (isRunning(rec.State)) {
      await this.endRestarts(rec);
      if (hasProcess(rec.State)) await this.stopRunning(rec, opts);
      this.deps.events.log('container', 'stop', containerActor(rec));
    }
    await this.lock.run(rec.ID, async () => {
      if (this.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
      if (isRunning(rec.State)) return;
      rec.HasBeenManuallyStopped = false;
      this.manager(rec).reset();
      await this.startLocked(rec);
      this.deps.events.log('container', 'restart', containerActor(rec));
    });
  }

  // ---- remove / rename ----------------------------------------------------------------

  async remove(ref: string, opts: { force: boolean; volumes: boolean; link: boolean }): Promise<void> {
    const rec = this.get(ref);
    if (opts.link) throw invalidParameter('Conflict, cannot remove the default link name of the container');
    if (rec.State.RemovalInProgress) throw conflict(`removal of container ${ref} is already in progress`);
    for (;;) {
      if (isRunning(rec.State)) {
        if (!opts.force) {
          const what = rec.State.Paused ? 'container is paused' : rec.State.Restarting ? 'container is restarting' : 'container is running';
          throw conflict(`cannot remove container "${rec.Name}": ${what}: stop the container before removing or force remove`);
        }
        this.manager(rec).cancel();
        this.cancelRestartTimer(rec.ID);
        if (hasProcess(rec.State)) {
          const exited = this.untilExit(rec);
          try {
            if (rec.State.Paused) await this.deps.runtime.resume(rec.ID).catch((err) => this.deps.log(`resume ${rec.ID}: ${err}`));
            await this.killAndWait(rec, exited.promise);
          } finally {
            exited.cancel();
          }
        }
      }
      // A start that held the lock meanwhile leaves a process: kill it too before removing.
      const removed = await this.lock.run(rec.ID, async () => {
        if (hasProcess(rec.State)) return false;
        await this.removeLocked(rec, opts.volumes);
        return true;
      });
      if (removed) return;
    }
  }

  /** `removeVolumes` (rm -v; --rm by default) removes the container's anonymous volumes too. */
  private async removeLocked(rec: ContainerRecord, removeVolumes = !!rec.HostConfig.AutoRemove): Promise<void> {
    if (this.records.get(rec.ID) !== rec) return;
    const id = rec.ID;
    setRemoving(rec.State);
    this.manager(rec).cancel();
    this.cancelRestartTimer(id);
    try {
      await Promise.all([this.deps.runtime.delete(id, true).catch(() => {}), this.deps.network.detach(id)]);
      // Layer first: a failure leaves the record, so the container stays visible (Dead) and removable.
      await this.deps.layers.removeRWLayer(id);
      await this.deps.store.remove(id);
    } catch (err) {
      setDead(rec.State);
      await this.deps.store.save(rec).catch((saveErr) => this.deps.log(`save ${id}: ${saveErr}`));
      throw systemError(`unable to remove container ${id}: ${err instanceof Error ? err.message : err}`, err);
    }
    this.records.delete(id);
    this.restartManagers.delete(id);
    await this.deps.volumes?.release(rec, removeVolumes || !!rec.HostConfig.AutoRemove);
    this.deps.events.log('container', 'destroy', containerActor(rec));
    this.deps.names.release(rec.Name.slice(1));
    this.failPendingAttaches(id);
    this.pendingAttach.delete(id);
    // Gone, so not running: exit waiters (a restarting container's) are told too.
    this.exits.emit(id, { StatusCode: rec.State.ExitCode, Error: null });
    this.removals.emit(id, { StatusCode: rec.State.ExitCode, Error: null });
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = this.get(ref);
    const name = newName.replace(/^\//, '');
    if (!name) throw invalidParameter('Neither old nor new names may be empty');
    if ('/' + name === rec.Name) throw invalidParameter('Renaming a container with the same name as its current name');
    await this.lock.run(rec.ID, async () => {
      const old = rec.Name.slice(1);
      try {
        this.deps.names.reserve(name, rec.ID);
      } catch (err) {
        if (isEngineError(err)) throw new EngineError(err.kind, `Error when allocating new name: ${err.message}`);
        throw err;
      }
      rec.Name = '/' + name;
      try {
        await this.deps.store.save(rec);
      } catch (err) {
        rec.Name = '/' + old;
        this.deps.names.release(name);
        throw err;
      }
      this.deps.names.release(old);
      this.deps.events.log('container', 'rename', containerActor(rec, { oldName: '/' + old }));
    });
  }

  // ---- inspect / list -----------------------------------------------------------------

  async inspect(ref: string, opts: { size: boolean }): Promise<ContainerInspect> {
    const rec = this.get(ref);
    const graphDriverData = await this.deps.layers.rwGraphDriverData(rec.ID);
    const sizes = opts.size ? await this.deps.layers.rwSizes(rec.ID) : undefined;
    return toInspect(rec, { graphDriverData, ...sizes, execIds: this.deps.execIds?.(rec.ID) });
  }

  async list(opts: ContainerListOptions): Promise<ContainerSummary[]> {
    const chosen = filterContainers(this.all(), opts, {
      resolveContainer: (ref: string) => this.get(ref),
      resolveImage: async (ref: string) => (await this.deps.images.resolve(ref)).id,
    });
    const out: ContainerSummary[] = [];
    for (const rec of await chosen) {
      const sizes = opts.size ? await this.deps.layers.rwSizes(rec.ID).catch(() => undefined) : undefined;
      out.push(toSummary(rec, { ...sizes }));
    }
    return out;
  }

  // ---- wait / attach / logs -----------------------------------------------------------

  async wait(ref: string, condition: WaitCondition): Promise<WaitHandle> {
    const rec = this.get(ref);
    const handle = (w: { promise: Promise<WaitResponse>; cancel: () => void }): WaitHandle => ({ result: w.promise, cancel: w.cancel });
    const current = (): WaitResponse => ({ StatusCode: rec.State.ExitCode, Error: null });
    switch (condition) {
      case 'not-running':
        if (!isRunning(rec.State)) return { result: Promise.resolve(current()), cancel: () => {} };
        return handle(this.exits.next(rec.ID));
      case 'next-exit':
        return handle(this.exits.next(rec.ID));
      case 'removed':
        return handle(this.removals.next(rec.ID));
      default:
        throw invalidParameter(`invalid condition: "${condition as string}"`);
    }
  }

  async attach(ref: string, opts: AttachOptions): Promise<AttachSession> {
    const rec = this.get(ref);
    const detachKeys = opts.detachKeys ? parseDetachKeys(opts.detachKeys) : DEFAULT_DETACH_KEYS;
    this.deps.events.log('container', 'attach', containerActor(rec));
    const tty = !!rec.Config.Tty;
    return {
      tty,
      run: async (io) => {
        if (opts.logs) {
          const logs = await readLogs(rec.LogPath, { follow: false, stdout: opts.stdout, stderr: opts.stderr, timestamps: false }, this.followControl(rec));
          for await (const e of logs.entries) (e.stream === 'stderr' && !tty ? io.stderr : io.stdout).write(e.data);
        }
        if (!opts.stream) return;
        const pipeOpts = {
          tty,
          stdinOnce: !!rec.Config.StdinOnce,
          detachKeys,
          wantStdout: opts.stdout,
          wantStderr: opts.stderr,
        };
        const stdin = opts.stdin ? io.stdin : null;
        if (hasProcess(rec.State)) {
          const stream = await this.deps.runtime.attach(rec.ID);
          await pipeAttach(stream, { ...io, stdin }, pipeOpts);
          return;
        }
        // Not running yet: join at the next start, between runtime create and start, so no output is
        // missed. Removal cancels it (removeLocked); a client that goes away drops it.
        await new Promise<void>((resolve) => {
          const set = this.pendingAttach.get(rec.ID) ?? new Set<PendingAttach>();
          this.pendingAttach.set(rec.ID, set);
          const leave = () => {
            set.delete(entry);
            if (set.size === 0 && this.pendingAttach.get(rec.ID) === set) this.pendingAttach.delete(rec.ID);
            io.stdout.off('close', leave);
          };
          const entry: PendingAttach = {
            connect: async () => {
              leave();
              try {
                const stream = await this.deps.runtime.attach(rec.ID);
                void pipeAttach(stream, { ...io, stdin }, pipeOpts).then(() => resolve());
              } catch (err) {
                resolve();
                throw err;
              }
            },
            cancel: () => {
              leave();
              resolve();
            },
          };
          set.add(entry);
          io.stdout.once('close', entry.cancel);
        });
      },
    };
  }

  private async connectPendingAttaches(id: string): Promise<void> {
    const set = this.pendingAttach.get(id);
    if (!set?.size) return;
    await Promise.all([...set].map((p) => p.connect().catch((err) => this.deps.log(`attach ${id}: ${err}`))));
  }

  private failPendingAttaches(id: string): void {
    const set = this.pendingAttach.get(id);
    if (!set) return;
    for (const p of [...set]) p.cancel();
    this.pendingAttach.delete(id);
  }

  private followControl(rec: ContainerRecord) {
    return {
      isRunning: () => hasProcess(rec.State),
      onStop: (cb: () => void) => this.exits.once(rec.ID, () => cb()),
    };
  }

  async logs(ref: string, opts: LogsOptions): Promise<LogsResult> {
    const rec = this.get(ref);
    const logType = rec.HostConfig.LogConfig?.Type;
    if (logType === 'none') throw invalidParameter('configured logging driver does not support reading');
    const res = await readLogs(rec.LogPath, opts, this.followControl(rec));
    return { ...res, tty: !!rec.Config.Tty, attributes: logAttributes(rec.HostConfig.LogConfig, rec.Config.Labels, rec.Config.Env) };
  }

  // ---- top / resize / prune -----------------------------------------------------------

  async stats(ref: string, opts: StatsOptions): Promise<StatsStream> {
    const rec = this.get(ref);
    const target = containerStatsTarget(rec, () => this.records.get(rec.ID) === rec);
    return openStatsStream(target, opts, { cgroupVersion: this.deps.settings.cgroupVersion });
  }

  async top(ref: string, psArgs?: string): Promise<ContainerTop> {
    const rec = this.get(ref);
    if (!rec.State.Running) throw conflict(`container ${rec.ID} is not running`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
    return runTop(rec.State.Pid, psArgs);
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const rec = this.get(ref);
    if (!hasProcess(rec.State)) throw conflict(`cannot resize a stopped container: container ${rec.ID} is not running`);
    await this.deps.runtime.resize(rec.ID, height, width);
    this.deps.events.log('container', 'resize', containerActor(rec, { height: String(height), width: String(width) }));
  }

  async prune(filters: Filters): Promise<PruneReport> {
    const until = filters.until?.[0];
    const untilMs = until ? parseFilterTime(until) * 1000 : undefined;
    const labelFilters = filters.label ?? [];
    const labelNotFilters = filters['label!'] ?? [];
    for (const k of Object.keys(filters)) {
      if (!['until', 'label', 'label!'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    }
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const rec of this.all()) {
      if (isRunning(rec.State)) continue;
      if (untilMs !== undefined && Date.parse(rec.Created) >= untilMs) continue;
      if (!labelFilters.every((f) => labelMatches(rec.Config.Labels, f))) continue;
      if (labelNotFilters.some((f) => labelMatches(rec.Config.Labels, f))) continue;
      const size = await this.deps.layers.rwSize(rec.ID).catch(() => 0);
      try {
        await this.lock.run(rec.ID, () => this.removeLocked(rec));
        deleted.push(rec.ID);
        reclaimed += size;
      } catch (err) {
        this.deps.log(`prune ${rec.ID}: ${err}`);
      }
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---- networks -----------------------------------------------------------------------

  /** What the services beside the lifecycle (archive, commit, pause, update) need of it. */
  access(): ContainerAccess {
    return {
      get: (ref) => this.get(ref),
      locked: (id, fn) => this.lock.run(id, fn),
      save: (rec) => this.save(rec),
      restartPolicyChanged: (rec) => this.restartManagers.delete(rec.ID),
      rootfs: this.rootfs,
      deps: this.deps,
    };
  }

  /** What the /networks endpoints need of containers (daemon/networks.ts). */
  networkHooks(): NetworkContainerHooks {
    return {
      resolve: (ref) => {
        const rec = this.get(ref);
        return { id: rec.ID, name: rec.Name.slice(1), running: hasProcess(rec.State), networkMode: rec.HostConfig.NetworkMode ?? 'bridge' };
      },
      recordEndpoint: async (id, network, cfg, settings) => {
        const rec = this.records.get(id);
        if (!rec) return;
        await this.lock.run(id, async () => {
          if (settings) rec.NetworkSettings = settings;
          else if (cfg) rec.NetworkSettings.Networks = { ...rec.NetworkSettings.Networks, [network]: cfg };
          else {
            const { [network]: _gone, ...rest } = rec.NetworkSettings.Networks;
            void _gone;
            rec.NetworkSettings.Networks = rest;
          }
          await this.save(rec);
        });
      },
    };
  }

  /** Changes a container's record under its lock and saves it (health results); a no-op once it is gone. */
  async updateRecord(id: string, change: (rec: ContainerRecord) => void): Promise<void> {
    const rec = this.records.get(id);
    if (!rec) return;
    await this.lock.run(id, async () => {
      if (!this.records.has(id)) return;
      change(rec);
      await this.deps.store.save(rec);
    });
  }

  // ---- daemon start / stop ------------------------------------------------------------

  /**
   * Takes the records found on disk, reconciles them with the runtime (containers keep
   * running while the daemon is down) and applies restart policies as Docker does at start.
   */
  async restore(records: ContainerRecord[]): Promise<void> {
    await this.deps.volumes?.restore(records);
    for (const rec of records) {
      this.records.set(rec.ID, rec);
      try {
        this.deps.names.reserve(rec.Name.slice(1), rec.ID);
      } catch {
        this.deps.log(`restore: duplicate name ${rec.Name} for ${rec.ID}`);
      }
    }
    const toRestart: ContainerRecord[] = [];
    // One `runc list` answers for every container; a `runc state` each made start-up grow with them.
    const listed = records.some((r) => r.State.Running || r.State.Paused)
      ? await this.deps.runtime.list().then((all) => new Map(all.map((st) => [st.id, st]))).catch(() => undefined)
      : undefined;
    await Promise.all(
      records.map(async (rec) => {
        const id = rec.ID;
        if (rec.State.RemovalInProgress || rec.State.Dead) {
          await this.lock.run(id, () => this.removeLocked(rec)).catch((err) => this.deps.log(`restore: remove ${id}: ${err}`));
          return;
        }
        // Waiting for a restart when the daemon went down: exited, and the policy decides below.
        if (rec.State.Restarting) cancelRestarting(rec.State);
        if (hasProcess(rec.State)) {
          const state = listed ? listed.get(id) : await this.deps.runtime.state(id).catch(() => undefined);
          const alive = state && (state.status === 'running' || state.status === 'paused');
          if (alive) {
            // The lifecycle's reference to the rootfs, mounted since its start.
            await this.rootfs.acquire(id).catch((err) => this.deps.log(`restore: mount ${id}: ${err}`));
            rec.State.Pid = state.pid;
            if (state.status === 'paused') setPaused(rec.State);
            else setUnpaused(rec.State);
            for (const o of this.deps.observers ?? []) o.started(rec, true);
            return;
          }
          const exit = (await this.deps.runtime.exitInfo(id).catch(() => undefined)) ?? {
            id,
            exitCode: 255,
            finishedAt: new Date(),
            oomKilled: false,
          };
          await this.lock.run(id, () => this.handleExitLocked(rec, exit)).catch((err) => this.deps.log(`restore: exit ${id}: ${err}`));
          // As Docker, a restart due at daemon start happens during restore, not after the back-off.
          if (rec.State.Restarting && this.cancelRestartTimer(id)) toRestart.push(rec);
          return;
        }
        if (
          rec.HasBeenStartedBefore &&
          policyWantsRestart(rec.HostConfig.RestartPolicy ?? {}, rec.State.ExitCode, rec.HasBeenManuallyStopped, 0)
        ) {
          toRestart.push(rec);
        } else if (rec.HostConfig.AutoRemove && rec.HasBeenStartedBefore) {
          await this.lock.run(id, () => this.removeLocked(rec)).catch(() => {});
        }
      }),
    );
    await this.deps.network.restore(this.all().filter((r) => hasProcess(r.State)).map((r) => r.ID));
    for (const rec of toRestart) {
      await this.lock
        .run(rec.ID, () => this.startLocked(rec))
        .catch((err) => this.deps.log(`restore: restart ${rec.ID}: ${err instanceof Error ? err.message : err}`));
    }
  }

  /** Daemon shutdown: containers keep running; pending restarts are dropped. */
  close(): void {
    this.closed = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
  }
}

// ---- helpers ----------------------------------------------------------------------------

/** NetworkSettings.Networks of a new container: its primary network plus the create request's endpoints. */
function initialEndpoints(mode: string, requested: Record<string, EndpointSettings> | null | undefined): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  if (!mode.startsWith('container:')) out[mode] = {};
  for (const [name, ep] of Object.entries(requested ?? {})) out[name === 'default' ? mode : name] = { ...(ep ?? {}) };
  return out;
}

function within<T>(p: Promise<T>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** The environment Docker gives the process: PATH, HOSTNAME, TERM with a tty, then Config.Env, HOME if unset. */
export function containerEnv(rec: ContainerRecord, home: string | undefined): string[] {
  const env = new Map<string, string>();
  env.set('PATH', `PATH=${DEFAULT_PATH}`);
  env.set('HOSTNAME', `HOSTNAME=${rec.HostConfig.NetworkMode === 'host' ? '' : rec.Config.Hostname ?? ''}`);
  if (rec.HostConfig.NetworkMode === 'host') env.delete('HOSTNAME');
  if (rec.Config.Tty) env.set('TERM', 'TERM=xterm');
  for (const kv of rec.Config.Env ?? []) {
    const key = kv.split('=', 1)[0];
    if (kv.includes('=')) env.set(key!, kv);
  }
  if (!env.has('HOME')) env.set('HOME', `HOME=${home || '/'}`);
  return [...env.values()];
}

async function ensureWorkingDir(rootfs: string, cwd: string): Promise<void> {
  if (cwd === '/') return;
  if (!cwd.startsWith('/')) throw invalidParameter(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  // A symlink inside the container must not lead the mkdir outside its root.
  let cur = rootfs;
  for (const part of cwd.split('/').filter(Boolean)) {
    if (part === '..') throw invalidParameter(`the working directory '${cwd}' is invalid`);
    cur = join(cur, part);
    const st = await stat(cur).catch(() => undefined);
    if (!st) await mkdir(cur, { mode: 0o755 });
    else if (!st.isDirectory()) throw invalidParameter(`cannot use ${cwd} as working directory: not a directory`);
    const link = await readlink(cur).catch(() => undefined);
    if (link !== undefined) return; // the runtime resolves symlinks inside the rootfs itself
  }
}

/** Docker's exit codes and messages for a failed start. */
function startError(err: unknown): { exitCode: number; error: EngineError } {
  if (err instanceof EngineError) return { exitCode: 128, error: err };
  if (err instanceof RuntimeStartError) {
    const msg = `failed to create task for container: OCI runtime create failed: ${err.message}: unknown`;
    if (/executable file not found|no such file or directory/.test(err.message)) {
      return { exitCode: 127, error: new EngineError('InvalidParameter', msg) };
    }
    if (/permission denied/.test(err.message)) return { exitCode: 126, error: new EngineError('InvalidParameter', msg) };
    return { exitCode: 128, error: systemError(msg, err) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: 128, error: systemError(message, err) };
}

