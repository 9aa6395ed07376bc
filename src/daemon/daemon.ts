/**
 * Wiring: builds the stores, the runtime and the services from the daemon config, restores
 * what was on disk, and serves the API. The only module that knows every part.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../api/server.js';
import { ContainerStore } from '../container/store.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { generateId } from '../lib/ids.js';
import { noSuchContainer } from '../lib/errors.js';
import { ConmonRuntime } from '../runtime/conmon.js';
import { detectCgroupVersion, findInitBinary } from '../runtime/spec.js';
import type { DaemonConfig } from './config.js';
import { ContainerService } from './containers.js';
import { containerFileServices } from './container-files.js';
import { ImageService } from './images.js';
import { DiskUsageService } from './disk-usage.js';
import { NetworkService } from './networks.js';
import { NetworkManager } from '../network/manager.js';
import { chainPrefixForBridge } from '../network/iptables.js';
import { SystemService } from './system.js';
import { VolumeService } from './volumes.js';
import { EventBus } from './events.js';
import { ExecService } from './exec.js';
import { HealthMonitor } from './health.js';
import { BuildService } from './build.js';

export interface RunningDaemon {
  shutdown(): Promise<void>;
}

async function engineId(dataRoot: string): Promise<string> {
  const path = join(dataRoot, 'engine-id');
  const existing = await readFile(path, 'utf8').catch(() => '');
  if (existing.trim()) return existing.trim();
  const id = generateId();
  await writeFileAtomic(path, id);
  return id;
}

export async function startDaemon(cfg: DaemonConfig, log: (msg: string) => void): Promise<RunningDaemon> {
  await mkdir(cfg.dataRoot, { recursive: true, mode: 0o711 });
  await mkdir(cfg.execRoot, { recursive: true, mode: 0o700 });
  const cgroupVersion = await detectCgroupVersion();
  const runtimeName = cfg.defaultRuntime;
  const runtimeEntry = cfg.runtimes[runtimeName] ?? { path: runtimeName };
  const runtime = new ConmonRuntime({
    runtimeName,
    runtimePath: runtimeEntry.path,
    runtimeArgs: runtimeEntry.runtimeArgs,
    stateRoot: join(cfg.execRoot, 'runc'),
    execRoot: cfg.execRoot,
  });

  const events = new EventBus();
  const containerStore = new ContainerStore(cfg.dataRoot);
  const network = new NetworkManager({
    dataRoot: cfg.dataRoot,
    bip: cfg.bip,
    bridgeName: cfg.bridge,
    chainPrefix: chainPrefixForBridge(cfg.bridge),
    defaultAddressPools: cfg.defaultAddressPools,
    dnsUpstreams: cfg.dns.length ? cfg.dns : undefined,
    log,
  });
  let containers!: ContainerService;
  const images = new ImageService({
    dataRoot: cfg.dataRoot,
    containersUsingImage: (imageId: string) => containers.usingImage(imageId),
    events,
    registry: {
      insecureRegistries: cfg.insecureRegistries,
      registryMirrors: cfg.registryMirrors,
      maxConcurrentDownloads: cfg.maxConcurrentDownloads,
    },
  });
  await images.init();
  const volumes = new VolumeService(cfg.dataRoot, events, log);
  await volumes.init();
  const execs = new ExecService({
    container: (ref) => {
      const id = containerStore.names.resolve(ref);
      const rec = containers.all().find((r) => r.ID === id);
      if (!rec) throw noSuchContainer(ref);
      return rec;
    },
    containerById: (id) => containers.all().find((r) => r.ID === id),
    runtime,
    events,
    log,
  });
  const health = new HealthMonitor({ exec: execs, events, update: (id, change) => containers.updateRecord(id, change), log });
  containers = new ContainerService({
    images,
    layers: images.layers,
    store: containerStore,
    names: containerStore.names,
    runtime,
    network,
    settings: {
      execRoot: cfg.execRoot,
      cgroupParent: cfg.cgroupParent,
      cgroupVersion,
      initPath: await findInitBinary(),
      ncpu: cpus().length,
      logDefaults: { Type: cfg.logDriver, Config: cfg.logOpts },
    },
    log,
    events,
    volumes,
    observers: [health],
    execIds: (id) => execs.idsFor(id),
  });

  await containers.restore(await containerStore.load());
  runtime.watchExits((exit) => {
    containers.handleExit(exit).catch((err) => log(`exit ${exit.id}: ${err instanceof Error ? err.message : err}`));
  });

  const system = new SystemService({
    id: await engineId(cfg.dataRoot),
    dataRoot: cfg.dataRoot,
    defaultRuntime: runtimeName,
    runtimes: { runc: { path: 'runc' }, ...cfg.runtimes },
    liveRestore: cfg.liveRestore,
    logDriver: cfg.logDriver,
    debug: cfg.debug,
    cgroupVersion,
    counts: () => {
      const all = containers.all();
      const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
      const paused = all.filter((c) => c.State.Paused).length;
      return { containers: all.length, running, paused, stopped: all.length - running - paused, images: images.count() };
    },
  });

  const networks = new NetworkService(network, containers.networkHooks(), events);
  const { files, control } = containerFileServices(containers.access(), images);
  const diskUsage = new DiskUsageService({ layers: images.layers, images, containers, volumes });
  const build = new BuildService({ images, containers, events, tmpRoot: join(cfg.dataRoot, 'tmp'), log });
  await build.init();
  const server = await startApiServer({ containers, images, system, networks, events, volumes, exec: execs, files, control, diskUsage, build }, { hosts: cfg.hosts, debug: cfg.debug, log });
  log(`wharfd ready on ${cfg.hosts.join(', ')}`);

  return {
    async shutdown() {
      await server.close();
      containers.close();
      health.close();
      execs.close();
      await runtime.close();
      await network.close();
    },
  };
}
