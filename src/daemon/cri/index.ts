/**
 * The engine side of the CRI endpoint: builds the CRI backends over the daemon's services and
 * starts the gRPC server (cri/server.ts) on the configured socket.
 */
import { startCriServer, type CriServer } from '../../cri/server.js';
import type { CriImageBackend, CriRuntimeBackend } from '../../cri/backend.js';
import { startStreamingServer } from '../../cri/streaming/server.js';
import { invalidParameter } from '../../lib/errors.js';
import { reopenConmonLog } from '../../runtime/conmon-log.js';
import { WHARF_VERSION } from '../system.js';
import { CriContainers } from './containers.js';
import type { CriEngine } from './engine.js';
import { execSync } from './exec-sync.js';
import { CriImages } from './images.js';
import { PauseImage } from './pause-image.js';
import { PodNetwork, POD_NETWORK } from './pod-network.js';
import { PodSandboxes } from './pods.js';
import { CriStats } from './stats.js';
import { streamingRuntime, type StreamingRuntimeDeps } from './streaming-runtime.js';

export interface CriDeps {
  socketPath: string;
  log: (msg: string) => void;
  engine: CriEngine;
  execRoot: string;
  /** The daemon's cgroup driver (native.cgroupdriver), which kubelet must match. */
  cgroupDriver: 'cgroupfs' | 'systemd';
  /** daemon.json `cri-pause-image`; default: wharf/pause built from catatonit. */
  pauseImage?: string;
  /** The engine services exec/attach/port-forward run through, and the streaming server's `host:port` (default 127.0.0.1, any port). */
  streaming: Omit<StreamingRuntimeDeps, 'log'> & { address?: string };
}

function runtimeBackend(deps: CriDeps): CriRuntimeBackend {
  const { engine } = deps;
  const network = new PodNetwork(engine);
  const pods = new PodSandboxes(engine, new PauseImage(engine, deps.pauseImage), network);
  const containers = new CriContainers(engine, pods);
  const stats = new CriStats(engine);
  const podContainers = (sandboxId: string) => containers.all().filter((c) => pods.containersOf(sandboxId).some((r) => r.ID === c.rec.ID));
  return {
    async Version() {
      return { version: '0.1.0', runtime_name: 'wharf', runtime_version: WHARF_VERSION, runtime_api_version: 'v1' };
    },
    async Status(req) {
      const conditions = [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        { type: 'NetworkReady', status: true, reason: '', message: '' },
      ];
      const info: Record<string, string> = req.verbose ? { config: JSON.stringify({ podNetwork: POD_NETWORK, pauseImage: deps.pauseImage ?? 'wharf/pause' }) } : {};
      return { status: { conditions }, info };
    },
    async RuntimeConfig() {
      return { linux: { cgroup_driver: deps.cgroupDriver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' } };
    },
    async UpdateRuntimeConfig(req) {
      await network.setPodCidr(req.runtime_config?.network_config?.pod_cidr ?? '');
      return {};
    },

    async RunPodSandbox(req) {
      return { pod_sandbox_id: await pods.run(req.config, req.runtime_handler) };
    },
    async StopPodSandbox(req) {
      await pods.stop(req.pod_sandbox_id);
      return {};
    },
    async RemovePodSandbox(req) {
      await pods.remove(req.pod_sandbox_id);
      return {};
    },
    async PodSandboxStatus(req) {
      return pods.status(req.pod_sandbox_id, req.verbose);
    },
    async ListPodSandbox(req) {
      return { items: pods.list(req.filter) };
    },

    async CreateContainer(req) {
      return { container_id: await containers.create(req.pod_sandbox_id, req.config, req.sandbox_config) };
    },
    async StartContainer(req) {
      await containers.start(req.container_id);
      return {};
    },
    async StopContainer(req) {
      await containers.stop(req.container_id, Number(req.timeout));
      return {};
    },
    async RemoveContainer(req) {
      await containers.remove(req.container_id);
      return {};
    },
    async ListContainers(req) {
      return { containers: containers.list(req.filter) };
    },
    async ContainerStatus(req) {
      return containers.status(req.container_id, req.verbose);
    },
    async UpdateContainerResources(req) {
      await containers.updateResources(req.container_id, req.linux);
      return {};
    },
    async ReopenContainerLog(req) {
      const c = containers.get(req.container_id);
      if (!c.meta.logPath) throw invalidParameter(`container ${c.rec.ID} has no CRI log path`);
      await reopenConmonLog(deps.execRoot, c.rec.ID, c.meta.logPath);
      return {};
    },
    async ExecSync(req) {
      return execSync(engine, containers.get(req.container_id), req.cmd, Number(req.timeout));
    },

    async ContainerStats(req) {
      return { stats: await stats.container(containers.get(req.container_id)) };
    },
    async ListContainerStats(req) {
      const f = req.filter;
      const list = containers.list(f ? { id: f.id, pod_sandbox_id: f.pod_sandbox_id, label_selector: f.label_selector, state: null } : null);
      const ids = new Set(list.map((c) => c.id));
      const items = containers.all().filter((c) => ids.has(c.rec.ID));
      return { stats: await Promise.all(items.map((c) => stats.container(c))) };
    },
    async PodSandboxStats(req) {
      const sb = pods.get(req.pod_sandbox_id);
      return { stats: await stats.sandbox(sb, podContainers(sb.rec.ID)) };
    },
    async ListPodSandboxStats(req) {
      const f = req.filter;
      const list = pods.list(f ? { id: f.id, label_selector: f.label_selector, state: null } : null);
      return { stats: await Promise.all(list.map((p) => pods.get(p.id ?? '')).map((sb) => stats.sandbox(sb, podContainers(sb.rec.ID)))) };
    },
  };
}

function imageBackend(engine: CriEngine): CriImageBackend {
  const images = new CriImages(engine);
  return {
    async ListImages(req) {
      return { images: await images.list(req.filter?.image?.image) };
    },
    async ImageStatus(req) {
      return images.status(req.image?.image ?? '', req.verbose);
    },
    async PullImage(req, signal) {
      return { image_ref: await images.pull(req.image?.image ?? '', req.auth, signal) };
    },
    async RemoveImage(req) {
      await images.remove(req.image?.image ?? '');
      return {};
    },
    async ImageFsInfo() {
      return images.fsInfo();
    },
  };
}

export async function startCri(deps: CriDeps): Promise<CriServer> {
  const runtime = streamingRuntime({ ...deps.streaming, log: deps.log });
  const streaming = await startStreamingServer({ runtime, address: deps.streaming.address, log: deps.log });
  try {
    return await startCriServer({ socketPath: deps.socketPath, runtime: runtimeBackend(deps), images: imageBackend(deps.engine), streaming, log: deps.log });
  } catch (err) {
    await streaming.close();
    throw err;
  }
}
