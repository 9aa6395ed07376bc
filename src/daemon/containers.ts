/**
 * The container lifecycle: create, start, stop, kill, restart, remove, rename, wait, attach,
 * and what happens when a container exits (restart policies, --rm). Implements the API's
 * ContainerBackend over the stores and the runtime in ContainerDeps.
 */
import { EventEmitter } from 'node:events';
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
import { formatRFC3339Nano, nowRFC3339Nano } from '../container/state.js';
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
import { DEFAULT_SHM_SIZE, buildSpec } from '../runtime/spec.js';
import { logSizeMax, validateLogConfig, withDaemonLogDefaults } from './log-config.js';
import { resolveUser } from '../runtime/user.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, pipeAttach } from './attach-session.js';
import { commandOf, effectiveNetworkMode, mergeImageConfig, validateHostConfig } from './container-config.js';
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
import { runTop } from './top.js';

const DEFAULT_STOP_TIMEOUT_S = 10;
const KILL_WAIT_MS = 30_000;
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
  /** 'exit:<id>' (exit code), 'removed:<id>', 'started:<id>'. */
  private readonly events = new EventEmitter();
  private readonly pendingAttach = new Map<string, Set<PendingAttach>>();
  private readonly restartManagers = new Map<string, RestartManager>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly deps: ContainerDeps) {
    this.events.setMaxListeners(0);
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
      .map((r) => ({ id: r.ID, running: r.State.Running }));
  }

  // ---- create -------------------------------------------------------------------------

  async create(name: string | undefined, body: ContainerCreateBody, _platform?: string): Promise<ContainerCreateResponse> {
    const { HostConfig: hostConfigIn, NetworkingConfig: networkingConfig, ...userConfig } = body;
    const hostConfig: HostConfig = { ...(hostConfigIn ?? {}) };
    if (!userConfig.Image) throw invalidParameter('Config cannot be empty in order to create a container');
    validateHostConfig(hostConfig, this.deps.settings.ncpu);
    const image = await this.deps.images.resolve(userConfig.Image);
    const config = mergeImageConfig(userConfig, image.config.config);
    const { path, args } = commandOf(config);
    hostConfig.NetworkMode = effectiveNetworkMode(hostConfig);
    // Docker records the /dev/shm size it will use (64 MiB unless given).
    if (!hostConfig.ShmSize) hostConfig.ShmSize = DEFAULT_SHM_SIZE;
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
    return { Id: id, Warnings: [] };
  }

  // ---- start --------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const rec = this.get(ref);
    await this.lock.run(rec.ID, async () => {
      if (rec.State.Paused) throw conflict('cannot start a paused container, try unpause instead');
      if (rec.State.Running) throw notModified();
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
    const { layers, runtime, settings } = this.deps;
    const id = rec.ID;
    let mounted = false;
    let volumesUp = false;
    let created = false;
    let attached = false;
    try {
      const rootfs = await layers.mountRW(id);
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
      rec.State = {
        ...rec.State,
        Status: 'running',
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: nowRFC3339Nano(),
      };
      rec.HasBeenStartedBefore = true;
      for (const o of this.deps.observers ?? []) o.started(rec, false);
      await this.deps.store.save(rec);
      this.events.emit(`started:${id}`);
      this.deps.events.log('container', 'start', containerActor(rec));
    } catch (err) {
      if (created) await runtime.delete(id, true).catch(() => {});
      if (attached) await this.releaseNetwork(rec);
      if (volumesUp) await this.deps.volumes?.teardown(rec).catch(() => {});
      if (mounted) await layers.unmountRW(id).catch(() => {});
      const engineErr = startError(err);
      rec.State = {
        ...rec.State,
        Status: rec.HasBeenStartedBefore ? 'exited' : 'created',
        Running: false,
        Restarting: false,
        Pid: 0,
        ExitCode: engineErr.exitCode,
        Error: engineErr.error.message,
        FinishedAt: rec.HasBeenStartedBefore ? nowRFC3339Nano() : rec.State.FinishedAt,
      };
      await this.deps.store.save(rec).catch(() => {});
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
      if (!other.State.Running) {
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
    if (!rec.State.Running && !rec.State.Paused) return;
    for (const o of this.deps.observers ?? []) o.stopped(rec);
    const id = rec.ID;
    const attachedNetworks = networkActors(rec);
    // The processes are gone: runtime state, network and mount can be released side by side.
    await Promise.all([
      this.deps.runtime.delete(id, true).catch((err) => this.deps.log(`runtime delete ${id}: ${err}`)),
      this.releaseNetwork(rec),
      this.deps.layers.unmountRW(id).catch((err) => this.deps.log(`unmount ${id}: ${err}`)),
      this.deps.volumes?.teardown(rec),
    ]);
    const finishedAt = formatRFC3339Nano(exit.finishedAt);
    const ranFor = execDuration(rec.State.StartedAt, exit.finishedAt);
    const ranMs = exit.finishedAt.getTime() - Date.parse(rec.State.StartedAt);
    const decision = this.closed
      ? { restart: false, delayMs: 0 }
      : this.manager(rec).shouldRestart(exit.exitCode, rec.HasBeenManuallyStopped, ranMs);
    rec.State = {
      ...rec.State,
      Status: decision.restart ? 'restarting' : 'exited',
      Running: false,
      Paused: false,
      Restarting: decision.restart,
      OOMKilled: exit.oomKilled,
      Pid: 0,
      ExitCode: exit.exitCode,
      FinishedAt: finishedAt,
    };
    await this.deps.store.save(rec);
    if (exit.oomKilled) this.deps.events.log('container', 'oom', containerActor(rec));
    this.deps.events.log('container', 'die', containerActor(rec, { exitCode: String(exit.exitCode), execDuration: ranFor }));
    for (const actor of attachedNetworks) this.deps.events.log('network', 'disconnect', actor);
    this.events.emit(`exit:${id}`, { StatusCode: exit.exitCode, Error: null } satisfies WaitResponse);
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
          if (!rec.State.Restarting || !this.records.has(rec.ID)) return;
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

  /** Resolves with the next exit of the container (registered synchronously). */
  private nextExit(id: string): Promise<WaitResponse> {
    return new Promise((resolve) => this.events.once(`exit:${id}`, resolve));
  }

  // ---- stop / kill / restart ------------------------------------------------------------

  async stop(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const rec = this.get(ref);
    this.manager(rec).cancel();
    if (rec.State.Restarting && this.cancelRestartTimer(rec.ID)) {
      await this.lock.run(rec.ID, async () => {
        rec.HasBeenManuallyStopped = true;
        rec.State = { ...rec.State, Status: 'exited', Restarting: false };
        await this.deps.store.save(rec);
      });
      return;
    }
    if (!rec.State.Running) throw notModified();
    rec.HasBeenManuallyStopped = true;
    await this.stopRunning(rec, opts);
    this.deps.events.log('container', 'stop', containerActor(rec));
  }

  private async stopRunning(rec: ContainerRecord, opts: { signal?: string; timeout?: number }): Promise<void> {
    const signal = parseSignal(opts.signal || rec.Config.StopSignal || 'SIGTERM');
    const timeoutS = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
    const exited = this.nextExit(rec.ID);
    if (rec.State.Paused) await this.deps.runtime.resume(rec.ID).catch(() => {});
    if (timeoutS !== 0) {
      await this.signal(rec, signal);
      if (timeoutS < 0 || (await within(exited, timeoutS * 1000))) return void (await exited);
    }
    await this.killAndWait(rec, exited);
  }

  /** SIGKILL, then the exit; a process the kernel cannot kill (D state) is an error, not a hang. */
  private async killAndWait(rec: ContainerRecord, exited: Promise<WaitResponse>): Promise<void> {
    await this.signal(rec, 9);
    if (!(await within(exited, KILL_WAIT_MS))) {
      throw systemError(`container ${rec.ID} did not exit within ${KILL_WAIT_MS / 1000} seconds of SIGKILL`);
    }
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

  async kill(ref: string, signalName?: string): Promise<void> {
    const rec = this.get(ref);
    const signal = parseSignal(signalName || 'SIGKILL');
    if (!rec.State.Running) {
      throw conflict(`cannot kill container: ${ref}: container ${rec.ID} is not running`);
    }
    await this.signal(rec, signal);
    // Docker thaws a paused container after a stopping signal so that it is delivered.
    const stopSignal = rec.Config.StopSignal ? parseSignal(rec.Config.StopSignal) : undefined;
    if (rec.State.Paused && (signal === 9 || stopSignal === undefined || stopSignal === signal)) {
      await this.deps.runtime.resume(rec.ID).catch((err) => this.deps.log(`resume ${rec.ID}: ${err}`));
      if (rec.State.Running && rec.State.Paused) rec.State = { ...rec.State, Paused: false, Status: 'running' };
    }
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number }): Promise<void> {
    const rec = this.get(ref);
    this.manager(rec).cancel();
    this.cancelRestartTimer(rec.ID);
    if (rec.State.Running) {
      await this.stopRunning(rec, opts);
      this.deps.events.log('container', 'stop', containerActor(rec));
    }
    await this.lock.run(rec.ID, async () => {
      if (rec.State.Running) return;
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
    if (rec.State.Running || rec.State.Restarting) {
      if (!opts.force) {
        const what = rec.State.Paused ? 'container is paused' : rec.State.Restarting ? 'container is restarting' : 'container is running';
        throw conflict(`cannot remove container "${rec.Name}": ${what}: stop the container before removing or force remove`);
      }
      this.manager(rec).cancel();
      this.cancelRestartTimer(rec.ID);
      if (rec.State.Running) {
        const exited = this.nextExit(rec.ID);
        if (rec.State.Paused) await this.deps.runtime.resume(rec.ID).catch(() => {});
        await this.killAndWait(rec, exited);
      }
    }
    await this.lock.run(rec.ID, () => this.removeLocked(rec, opts.volumes));
  }

  /** `removeVolumes` (rm -v; --rm by default) removes the container's anonymous volumes too. */
  private async removeLocked(rec: ContainerRecord, removeVolumes = !!rec.HostConfig.AutoRemove): Promise<void> {
    if (!this.records.has(rec.ID)) return;
    const id = rec.ID;
    rec.State = { ...rec.State, RemovalInProgress: true, Status: 'removing' };
    this.manager(rec).cancel();
    this.cancelRestartTimer(id);
    try {
      await Promise.all([this.deps.runtime.delete(id, true).catch(() => {}), this.deps.network.detach(id)]);
      // Layer first: a failure leaves the record, so the container stays visible (Dead) and removable.
      await this.deps.layers.removeRWLayer(id);
      await this.deps.store.remove(id);
    } catch (err) {
      rec.State = { ...rec.State, RemovalInProgress: false, Dead: true, Status: 'dead' };
      await this.deps.store.save(rec).catch(() => {});
      throw systemError(`unable to remove container ${id}: ${err instanceof Error ? err.message : err}`, err);
    }
    this.records.delete(id);
    this.restartManagers.delete(id);
    await this.deps.volumes?.release(rec, removeVolumes || !!rec.HostConfig.AutoRemove);
    this.deps.events.log('container', 'destroy', containerActor(rec));
    this.deps.names.release(rec.Name.slice(1));
    this.events.emit(`removed:${id}`, { StatusCode: rec.State.ExitCode, Error: null } satisfies WaitResponse);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = this.get(ref);
    const name = newName.replace(/^\//, '');
    if (!name) throw invalidParameter('Neither old nor new names may be empty');
    if ('/' + name === rec.Name) throw invalidParameter('Renaming a container with the same name as its current name');
    await this.lock.run(rec.ID, async () => {
      const old = rec.Name.slice(1);
      this.deps.names.reserve(name, rec.ID);
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
    const current = (): WaitResponse => ({ StatusCode: rec.State.ExitCode, Error: null });
    switch (condition) {
      case 'not-running':
        if (!rec.State.Running && !rec.State.Restarting) return { result: Promise.resolve(current()) };
        return { result: this.nextExit(rec.ID) };
      case 'next-exit':
        return { result: this.nextExit(rec.ID) };
      case 'removed':
        return { result: new Promise((resolve) => this.events.once(`removed:${rec.ID}`, resolve)) };
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
        if (rec.State.Running) {
          const stream = await this.deps.runtime.attach(rec.ID);
          await pipeAttach(stream, { ...io, stdin }, pipeOpts);
          return;
        }
        // Not running yet: join at the next start, between runtime create and start, so no output is missed.
        await new Promise<void>((resolve) => {
          const set = this.pendingAttach.get(rec.ID) ?? new Set<PendingAttach>();
          this.pendingAttach.set(rec.ID, set);
          const entry: PendingAttach = {
            connect: async () => {
              set.delete(entry);
              const stream = await this.deps.runtime.attach(rec.ID);
              void pipeAttach(stream, { ...io, stdin }, pipeOpts).then(resolve);
            },
            cancel: resolve,
          };
          set.add(entry);
          const gone = () => {
            if (set.delete(entry)) resolve();
          };
          io.stdout.once('close', gone);
          this.events.once(`removed:${rec.ID}`, gone);
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
    for (const p of set) p.cancel();
    set.clear();
  }

  private followControl(rec: ContainerRecord) {
    return {
      isRunning: () => rec.State.Running,
      onStop: (cb: () => void) => {
        this.events.once(`exit:${rec.ID}`, () => cb());
      },
    };
  }

  async logs(ref: string, opts: LogsOptions): Promise<LogsResult> {
    const rec = this.get(ref);
    const logType = rec.HostConfig.LogConfig?.Type;
    if (logType === 'none') throw invalidParameter('configured logging driver does not support reading');
    const res = await readLogs(rec.LogPath, opts, this.followControl(rec));
    return { ...res, tty: !!rec.Config.Tty };
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
    if (!rec.State.Running) throw conflict(`cannot resize a stopped container: container ${rec.ID} is not running`);
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
      if (rec.State.Running || rec.State.Restarting || rec.State.Paused) continue;
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
      save: (rec) => this.deps.store.save(rec),
      restartPolicyChanged: (rec) => this.restartManagers.delete(rec.ID),
      deps: this.deps,
    };
  }

  /** What the /networks endpoints need of containers (daemon/networks.ts). */
  networkHooks(): NetworkContainerHooks {
    return {
      resolve: (ref) => {
        const rec = this.get(ref);
        return { id: rec.ID, name: rec.Name.slice(1), running: rec.State.Running, networkMode: rec.HostConfig.NetworkMode ?? 'bridge' };
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
          await this.deps.store.save(rec);
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
        if (rec.State.Running || rec.State.Paused) {
          const state = listed ? listed.get(id) : await this.deps.runtime.state(id).catch(() => undefined);
          const alive = state && (state.status === 'running' || state.status === 'paused');
          if (alive) {
            rec.State.Pid = state.pid;
            rec.State.Paused = state.status === 'paused';
            rec.State.Status = state.status === 'paused' ? 'paused' : 'running';
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
        if (rec.State.Restarting) {
          rec.State = { ...rec.State, Restarting: false, Status: 'exited' };
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
    await this.deps.network.restore(this.all().filter((r) => r.State.Running).map((r) => r.ID));
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
    if (kv.includes('=')) env.set(key, kv);
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

