/**
 * Wiring: builds the stores, the runtime and the services from the daemon config, restores
 * what was on disk, and serves the API. The only module that knows every part.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiTls } from '../api/server.js';
import { ContainerStore } from '../container/store.js';
import { LayerStore } from '../layer/layer-store.js';
import { Trash } from '../lib/trash.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { generateId } from '../lib/ids.js';
import { trimWhenQuiet } from '../lib/malloc-trim.js';
import { noSuchContainer } from '../lib/errors.js';
import { ConmonRuntime } from '../runtime/conmon.js';
import { detectCgroupVersion, findInitBinary } from '../runtime/spec.js';
import type { DaemonConfig } from './config.js';
import { ContainerService } from './containers/service.js';
import { containerFileServices } from './containers/files.js';
import { ImageService, type RegistryServiceOptions } from './images/service.js';
import { DiskUsageService } from './disk-usage.js';
import { NetworkService } from './networks.js';
import { NetworkManager } from '../network/manager.js';
import { chainPrefixForBridge } from '../network/iptables.js';
import { SystemService, type SystemFacts } from './system.js';
import { ComponentVersions } from './component-versions.js';
import { detectSysInfo } from './sysinfo.js';
import { VolumeService } from './volumes.js';
import { EventBus } from './events.js';
import { ExecService } from './exec.js';
import { HealthMonitor } from './health.js';
import { LogRotation } from './log-rotation.js';
import { BuildkitService } from '../buildkit/service.js';
import { BuildkitBuilder } from './buildkit-builder.js';
import { CacheMountStore } from './build-cache-mounts.js';
import { BuildService } from './build.js';

function registryOptions(cfg: DaemonConfig): RegistryServiceOptions {
  return {
    insecureRegistries: cfg.insecureRegistries,
    registryMirrors: cfg.registryMirrors,
    maxConcurrentDownloads: cfg.maxConcurrentDownloads,
    maxConcurrentUploads: cfg.maxConcurrentUploads,
  };
}

export interface RunningDaemon {
  /** Applies the reloadable keys of a new configuration (SIGHUP); returns what is now in force. */
  reload(next: DaemonConfig): Record<string, unknown>;
  /** Settles when the containers found on disk are restored (the API answers meanwhile; see startApiServer). */
  restored: Promise<void>;
  shutdown(): Promise<void>;
  /** What the daemon holds for clients (SIGUSR2 logs it, as dockerd dumps its goroutines): leaks show here. */
  stateDump(): Record<string, unknown>;
}

async function engineId(dataRoot: string): Promise<string> {
  const path = join(dataRoot, 'engine-id');
  const existing = await readFile(path, 'utf8').catch(() => '');
  if (existing.trim()) return existing.trim();
  const id = generateId();
  await writeFileAtomic(path, id);
  return id;
}

export async function startDaemon(cfg: DaemonConfig, log: (msg: string) => void, opts: { apiTls?: ApiTls; socketGid?: number } = {}): Promise<RunningDaemon> {
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
    log,
  });

  const initBinary = await findInitBinary();
  const events = new EventBus();
  // A removed container's dirs are deleted in the background once its paths are free (lib/trash.ts).
  const trash = new Trash(join(cfg.dataRoot, 'trash'), log);
  await trash.init();
  const containerStore = new ContainerStore(cfg.dataRoot, { trash });
  const hostId = await engineId(cfg.dataRoot);
  const network = new NetworkManager({
    dataRoot: cfg.dataRoot,
    bip: cfg.bip,
    ...(cfg.defaultBindIp ? { defaultBindIp: cfg.defaultBindIp } : {}),
    ipv6: cfg.ipv6,
    fixedCidrV6: cfg.fixedCidrV6,
    allowDirectRouting: cfg.allowDirectRouting,
    hostId,
    bridgeName: cfg.bridge,
    chainPrefix: chainPrefixForBridge(cfg.bridge),
    defaultAddressPools: cfg.defaultAddressPools,
    dnsUpstreams: cfg.dns.length ? cfg.dns : undefined,
    ...(cfg.mtu ? { mtu: cfg.mtu } : {}),
    log,
  });
  let containers!: ContainerService; // eslint-disable-line prefer-const -- assigned once, after the services that call back into it
  const images = new ImageService({
    dataRoot: cfg.dataRoot,
    layers: LayerStore.forDataRoot(cfg.dataRoot, trash),
    containersUsingImage: (imageId: string) => containers.usingImage(imageId),
    events,
    registry: registryOptions(cfg),
    log,
  });
  await images.init();
  const volumes = new VolumeService(cfg.dataRoot, events, log, images.layers, () => runtime.recursiveReadOnlyError());
  // The runtime's features are read once, now, as dockerd reads them with its runtimes: not on a container's start.
  void runtime.recursiveReadOnlyError();
  await volumes.init();
  const execs = new ExecService({
    container: (ref) => {
      const id = containerStore.names.resolve(ref);
      const rec = containers.all().find((r) => r.ID === id);
      if (!rec) throw noSuchContainer(ref);
      return rec;
    },
    containerById: (id) => containers.all().find((r) => r.ID === id),
    startSettled: (rec) => containers.startSettled(rec),
    linkEnv: (rec) => containers.linkEnv(rec),
    runtime,
    events,
    log,
  });
  const health = new HealthMonitor({ exec: execs, events, update: (id, change) => containers.updateRecord(id, change), log });
  const logRotation = new LogRotation(log);
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
      initPath: initBinary,
      ncpu: cpus().length,
      logDefaults: { Type: cfg.logDriver, Config: cfg.logOpts },
      defaultRuntime: runtimeName,
      sysInfo: await detectSysInfo(cgroupVersion),
      runtimes: ['runc', ...Object.keys(cfg.runtimes)],
      dnsDefaults: { dns: cfg.dns, dnsSearch: cfg.dnsSearch, dnsOptions: cfg.dnsOpts },
    },
    log,
    events,
    volumes,
    observers: [health, logRotation],
    execIds: (id) => execs.idsFor(id),
  });

  // Restore begins once the API listens (requests other than /_ping wait for it), so the time until
  // the daemon answers does not grow with the number of containers.
  let listening!: () => void;
  const restored = new Promise<void>((resolve) => (listening = resolve))
    .then(() => containerStore.load())
    .then((records) => containers.restore(records))
    .then(() => {
      runtime.watchExits((exit) => {
        containers.handleExit(exit).catch((err) => log(`exit ${exit.id}: ${err instanceof Error ? err.message : err}`));
      });
      runtime.watchOoms((id) => {
        containers.handleOom(id).catch((err) => log(`oom ${id}: ${err instanceof Error ? err.message : err}`));
      });
    });
  restored.catch(() => {}); // the caller handles it through RunningDaemon.restored

  const facts: SystemFacts = {
    id: hostId,
    labels: [...cfg.labels],
    dataRoot: cfg.dataRoot,
    defaultRuntime: runtimeName,
    runtimes: { runc: { path: 'runc' }, ...cfg.runtimes },
    liveRestore: cfg.liveRestore,
    logDriver: cfg.logDriver,
    debug: cfg.debug,
    cgroupVersion,
    registry: { insecureRegistries: cfg.insecureRegistries, registryMirrors: cfg.registryMirrors },
    defaultAddressPools: cfg.defaultAddressPools,
    components: new ComponentVersions({ runtime: runtimeEntry.path, conmon: 'conmon', init: initBinary }),
    counts: () => {
      const all = containers.all();
      const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
      const paused = all.filter((c) => c.State.Paused).length;
      return { containers: all.length, running, paused, stopped: all.length - running - paused, images: images.count() };
    },
  };
  const system = new SystemService(facts);

  const networks = new NetworkService(network, containers.networkHooks(), events);
  const { files, control } = containerFileServices(containers.access(), images);
  const build = new BuildService({ images, containers, events, tmpRoot: join(cfg.dataRoot, 'tmp'), cacheMounts: new CacheMountStore(join(cfg.dataRoot, 'build-cache-mounts')), log });
  await build.init();
  const diskUsage = new DiskUsageService({ layers: images.layers, images, containers, volumes, buildCache: build });
  const buildkit = new BuildkitService(new BuildkitBuilder(build, images, () => network.hostGatewayIp()), log);
  // What a burst of requests freed (a stream's buffers, a build's) goes back to the kernel once
  // the API has been quiet for a while; glibc would keep it resident.
  const quietTrim = trimWhenQuiet();
  const server = await startApiServer({ containers, images, system, networks, events, volumes, exec: execs, files, control, diskUsage, build, buildkit }, {
    hosts: cfg.hosts,
    debug: () => facts.debug,
    log,
    ready: restored,
    socketGid: opts.socketGid,
    tls: opts.apiTls,
    onRequestEnd: quietTrim.activity,
  });
  listening();
  // The CRI endpoint (gRPC, the protobuf loader, its streaming server) is loaded only when asked
  // for: its modules are about 17 MB of the daemon's resident memory and half of the start-up imports.
  const cri = cfg.criSocket
    ? await (await import('./cri/index.js')).startCri({
        socketPath: cfg.criSocket,
        log,
        execRoot: cfg.execRoot,
        cgroupDriver: cfg.cgroupDriver,
        pauseImage: cfg.criPauseImage,
        engine: { containers, control, images, networks, exec: execs, dataRoot: cfg.dataRoot, log },
        streaming: { containers, execs, address: cfg.criStreamAddress },
      })
    : undefined;
  log(`wharfd ready on ${cfg.hosts.join(', ')}`);

  return {
    reload(next: DaemonConfig): Record<string, unknown> {
      // Docker's reloadable keys that mean something here; the rest need a restart.
      facts.debug = next.debug;
      facts.labels = [...next.labels];
      facts.liveRestore = next.liveRestore;
      facts.registry = { insecureRegistries: next.insecureRegistries, registryMirrors: next.registryMirrors };
      images.reconfigureRegistry(registryOptions(next));
      return {
        debug: next.debug,
        labels: next.labels,
        'live-restore': next.liveRestore,
        'insecure-registries': next.insecureRegistries,
        'registry-mirrors': next.registryMirrors,
        'max-concurrent-downloads': next.maxConcurrentDownloads,
        'max-concurrent-uploads': next.maxConcurrentUploads,
      };
    },
    stateDump: () => ({ containers: containers.listenerCounts() }),
    restored,
    async shutdown() {
      await cri?.close();
      await server.close();
      quietTrim.stop();
      containers.close();
      await trash.drain();
      health.close();
      logRotation.close();
      execs.close();
      await runtime.close();
      await network.close();
    },
  };
}
