/**
 * The container lifecycle: implements the API's ContainerBackend over the stores and the
 * runtime in ContainerDeps. The state every verb shares is a ContainerCore (core.ts); each verb
 * lives in its own module (create, start, exit, stop, kill, remove, rename, attach, wait,
 * logs, inspect, top, restore), as moby's daemon/ does.
 */
import type {
  AttachOptions,
  AttachSession,
  ContainerBackend,
  ContainerCreateOptions,
  ContainerListOptions,
  LogsOptions,
  LogsResult,
  WaitCondition,
  WaitHandle,
} from '../../api/backend.js';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerTop,
  Filters,
  PruneReport,
} from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import { hasProcess, isRunning } from '../../container/state.js';
import { noSuchContainer, systemError } from '../../lib/errors.js';
import { shortId } from '../../lib/ids.js';
import type { ExitInfo } from '../../runtime/runtime.js';
import type { NetworkContainerHooks } from '../networks.js';
import { openStatsStream } from '../stats/collector.js';
import { containerStatsTarget } from '../stats/target.js';
import type { ContainerAccess } from './access.js';
import { attachContainer, resizeContainer } from './attach.js';
import { ContainerCore } from './core.js';
import { createContainer } from './create.js';
import { dnsOverrides, etcPaths, updateHostsLines, useEmbeddedResolvConf } from './etc-files.js';
import type { ContainerDeps } from './deps.js';
import { handleExit, handleOom } from './exit.js';
import { inspectContainer, listContainers } from './inspect.js';
import { containerLogs } from './logs.js';
import { pruneContainers, removeContainer, type RemoveOptions } from './remove.js';
import { renameContainer } from './rename.js';
import { restoreContainers } from './restore.js';
import { startContainer } from './start.js';
import { killContainer, restartContainer, stopContainer, type StopOptions } from './stop.js';
import { topContainer } from './top.js';
import { waitContainer } from './wait.js';
import type { StatsOptions, StatsStream } from '../../api/backend.js';

export class ContainerService implements ContainerBackend {
  private readonly c: ContainerCore;

  constructor(deps: ContainerDeps) {
    this.c = new ContainerCore(deps);
  }

  /** Waiters and pending attaches held for clients (the daemon's state dump; zero when idle). */
  listenerCounts(): { exitWaiters: number; removalWaiters: number; pendingAttaches: number } {
    let pendingAttaches = 0;
    for (const set of this.c.pendingAttach.values()) pendingAttaches += set.size;
    return { exitWaiters: this.c.exits.size(), removalWaiters: this.c.removals.size(), pendingAttaches };
  }

  all(): ContainerRecord[] {
    return this.c.all();
  }

  /** IDs of the containers made from an image, and whether each is running. */
  usingImage(imageId: string): Array<{ id: string; running: boolean }> {
    return this.all()
      .filter((r) => r.Image === imageId)
      .map((r) => ({ id: r.ID, running: isRunning(r.State) }));
  }

  create(name: string | undefined, body: ContainerCreateBody, platform?: string, opts: ContainerCreateOptions = {}): Promise<ContainerCreateResponse> {
    return createContainer(this.c, name, body, platform, opts);
  }
  start(ref: string): Promise<void> {
    return startContainer(this.c, ref);
  }
  /** Called by the runtime's exit watcher. */
  handleExit(exit: ExitInfo): Promise<void> {
    return handleExit(this.c, exit);
  }

  /** Settles once a start of the container under way has ended. */
  startSettled(rec: ContainerRecord): Promise<void> {
    return this.c.startSettled(rec);
  }

  /** An OOM of a running container's cgroup, as it happens. */
  handleOom(id: string): Promise<void> {
    return handleOom(this.c, id);
  }
  stop(ref: string, opts: StopOptions): Promise<void> {
    return stopContainer(this.c, ref, opts);
  }
  kill(ref: string, signalName?: string): Promise<void> {
    return killContainer(this.c, ref, signalName);
  }
  restart(ref: string, opts: StopOptions): Promise<void> {
    return restartContainer(this.c, ref, opts);
  }
  remove(ref: string, opts: RemoveOptions): Promise<void> {
    return removeContainer(this.c, ref, opts);
  }
  rename(ref: string, newName: string): Promise<void> {
    return renameContainer(this.c, ref, newName);
  }
  inspect(ref: string, opts: { size: boolean }): Promise<ContainerInspect> {
    return inspectContainer(this.c, ref, opts);
  }
  list(opts: ContainerListOptions): Promise<ContainerSummary[]> {
    return listContainers(this.c, opts);
  }
  wait(ref: string, condition: WaitCondition): Promise<WaitHandle> {
    return waitContainer(this.c, ref, condition);
  }
  attach(ref: string, opts: AttachOptions): Promise<AttachSession> {
    return attachContainer(this.c, ref, opts);
  }
  logs(ref: string, opts: LogsOptions): Promise<LogsResult> {
    return containerLogs(this.c, ref, opts);
  }
  async stats(ref: string, opts: StatsOptions): Promise<StatsStream> {
    const rec = this.c.get(ref);
    const target = containerStatsTarget(rec, () => this.c.records.get(rec.ID) === rec);
    return openStatsStream(target, opts, { cgroupVersion: this.c.deps.settings.cgroupVersion });
  }
  top(ref: string, psArgs?: string): Promise<ContainerTop> {
    return topContainer(this.c, ref, psArgs);
  }
  resize(ref: string, height: number, width: number): Promise<void> {
    return resizeContainer(this.c, ref, height, width);
  }
  prune(filters: Filters): Promise<PruneReport> {
    return pruneContainers(this.c, filters);
  }

  /** What the services beside the lifecycle (archive, commit, pause, update) need of it. */
  access(): ContainerAccess {
    const c = this.c;
    return {
      get: (ref) => c.get(ref),
      locked: (id, fn) => c.lock.run(id, fn),
      save: (rec) => c.save(rec),
      restartPolicyChanged: (rec) => c.restartManagers.delete(rec.ID),
      rootfs: c.rootfs,
      deps: c.deps,
    };
  }

  /** What the /networks endpoints need of containers (daemon/networks.ts). */
  networkHooks(): NetworkContainerHooks {
    const c = this.c;
    return {
      exclusive: (ref, fn) => {
        const rec = c.get(ref);
        return c.lock.run(rec.ID, () => {
          if (c.records.get(rec.ID) !== rec) throw noSuchContainer(ref);
          const running = hasProcess(rec.State);
          // moby's errRemovalContainer, a plain error (500), for one whose removal failed (Dead).
          if (!running && (rec.State.RemovalInProgress || rec.State.Dead)) {
            throw systemError(`Container ${rec.ID} is marked for removal and cannot be connected or disconnected to the network`);
          }
          return fn({
            id: rec.ID,
            name: rec.Name.slice(1),
            running,
            networkMode: rec.HostConfig.NetworkMode ?? 'bridge',
            networks: Object.keys(rec.NetworkSettings.Networks ?? {}),
          });
        });
      },
      recordEndpoint: async (id, network, cfg, settings) => {
        const rec = c.records.get(id);
        if (!rec) return;
        if (settings) rec.NetworkSettings = settings;
        else if (cfg) rec.NetworkSettings.Networks = { ...rec.NetworkSettings.Networks, [network]: cfg };
        else {
          const { [network]: _gone, ...rest } = rec.NetworkSettings.Networks;
          void _gone;
          rec.NetworkSettings.Networks = rest;
        }
        await c.save(rec);
      },
      endpointChanged: async (id, change) => {
        const rec = c.records.get(id);
        if (!rec) return;
        const etc = etcPaths(c.deps.store.dir(id));
        await updateHostsLines(etc.hosts, { ...change, hostname: rec.Config.Hostname ?? shortId(id), domainname: rec.Config.Domainname });
        if (change.embeddedDns) await useEmbeddedResolvConf(etc.resolvConf, dnsOverrides(rec.HostConfig, c.deps.settings.dnsDefaults));
      },
    };
  }

  /** Changes a container's record under its lock and saves it (health results); a no-op once it is gone. */
  async updateRecord(id: string, change: (rec: ContainerRecord) => void): Promise<void> {
    const c = this.c;
    const rec = c.records.get(id);
    if (!rec) return;
    await c.lock.run(id, async () => {
      if (!c.records.has(id)) return;
      change(rec);
      await c.deps.store.save(rec);
    });
  }

  /** Takes the records found on disk at daemon start (restore.ts). */
  restore(records: ContainerRecord[]): Promise<void> {
    return restoreContainers(this.c, records);
  }

  /** Legacy links' variables for an exec in `rec`. */
  linkEnv(rec: ContainerRecord): string[] {
    return this.c.links.env(rec, (id) => this.c.records.get(id));
  }

  /** Daemon shutdown: containers keep running; pending restarts are dropped. */
  close(): void {
    this.c.closed = true;
    for (const t of this.c.restartTimers.values()) clearTimeout(t);
    this.c.restartTimers.clear();
  }
}
