/**
 * Pod sandboxes as dockershim made them: an infra container running the pause image holds the
 * pod's network, IPC and UTS namespaces (and PID namespace when the pod shares one); the pod's
 * containers join them. The sandbox ID is the infra container's engine ID.
 */
import { writeFile } from 'node:fs/promises';
import type { HostConfig, PortBinding } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { PodSandboxConfig__Output } from '../../cri/gen/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxFilter__Output } from '../../cri/gen/runtime/v1/PodSandboxFilter.js';
import type { PodSandbox } from '../../cri/gen/runtime/v1/PodSandbox.js';
import type { PodSandboxStatusResponse } from '../../cri/gen/runtime/v1/PodSandboxStatusResponse.js';
import { hasProcess } from '../../container/state.js';
import { invalidParameter, isEngineError, notFound } from '../../lib/errors.js';
import type { CriEngine } from './engine.js';
import { criMetaOf, engineLabels, engineName, LABEL_SANDBOX_ID, matchesSelector, POD_INFRA_CONTAINER_NAME, type CriMeta, type SandboxMeta } from './labels.js';
import type { PauseImage } from './pause-image.js';
import type { PodNetwork } from './pod-network.js';
import { restrictOomScoreAdj, seccompSecurityOpt } from './security.js';
import { nowNanos, rfc3339ToNanos } from './time.js';

/** What kubelet gives the infra container (dockershim's and containerd's value), before restriction. */
const INFRA_OOM_SCORE_ADJ = -998;

export interface Sandbox {
  rec: ContainerRecord;
  meta: CriMeta & { sandbox: SandboxMeta };
}

/** Finds an object by full ID or unique prefix among `items` (CRI IDs may be abbreviated, as crictl prints them). */
export function byIdOrPrefix<T extends { rec: ContainerRecord }>(items: T[], id: string): T | undefined {
  if (!id) return undefined;
  const exact = items.find((i) => i.rec.ID === id);
  if (exact) return exact;
  const matches = items.filter((i) => i.rec.ID.startsWith(id));
  return matches.length === 1 ? matches[0] : undefined;
}

export class PodSandboxes {
  constructor(
    private readonly engine: CriEngine,
    private readonly pause: PauseImage,
    private readonly network: PodNetwork,
  ) {}

  all(): Sandbox[] {
    const out: Sandbox[] = [];
    for (const rec of this.engine.containers.all()) {
      const meta = criMetaOf(rec, 'sandbox');
      if (meta?.sandbox) out.push({ rec, meta: meta as Sandbox['meta'] });
    }
    return out;
  }

  find(id: string): Sandbox | undefined {
    return byIdOrPrefix(this.all(), id);
  }

  get(id: string): Sandbox {
    const sb = this.find(id);
    if (!sb) throw notFound(`pod sandbox ${JSON.stringify(id)} not found`);
    return sb;
  }

  /** The containers (not the infra) of a sandbox. */
  containersOf(sandboxId: string): ContainerRecord[] {
    return this.engine.containers.all().filter((r) => r.Config.Labels?.[LABEL_SANDBOX_ID] === sandboxId && criMetaOf(r, 'container'));
  }

  async run(config: PodSandboxConfig__Output | null, runtimeHandler: string): Promise<string> {
    const md = config?.metadata;
    if (!config || !md?.name) throw invalidParameter('sandbox config must include metadata with a name');
    if (runtimeHandler && runtimeHandler !== 'runc') throw invalidParameter(`runtime handler ${JSON.stringify(runtimeHandler)} is not supported (only "runc")`);
    const linux = config.linux;
    const sc = linux?.security_context;
    const nsOpts = sc?.namespace_options;
    const hostNetwork = nsOpts?.network === 'NODE';
    const sandboxMeta: SandboxMeta = {
      logDirectory: config.log_directory,
      runtimeHandler,
      network: hostNetwork ? 'NODE' : 'POD',
      pid: nsOpts?.pid === 'NODE' ? 'NODE' : nsOpts?.pid === 'CONTAINER' || !nsOpts?.pid ? 'CONTAINER' : 'POD',
      ipc: nsOpts?.ipc === 'NODE' ? 'NODE' : 'POD',
      cgroupParent: linux?.cgroup_parent ?? '',
    };
    const pod = { name: md.name, namespace: md.namespace, uid: md.uid };
    const meta: CriMeta = {
      metadata: { name: md.name, uid: md.uid, namespace: md.namespace, attempt: md.attempt },
      labels: config.labels ?? {},
      annotations: config.annotations ?? {},
      sandbox: sandboxMeta,
    };

    const dns = config.dns_config;
    const resolv = dns && (dns.servers.length || dns.searches.length || dns.options.length) ? resolvConf(dns) : undefined;
    const image = await this.pause.ensure();
    if (!hostNetwork) sandboxMeta.networkName = await this.network.ensure();
    const hc: HostConfig = {
      NetworkMode: hostNetwork ? 'host' : sandboxMeta.networkName,
      IpcMode: sandboxMeta.ipc === 'NODE' ? 'host' : 'shareable',
      PidMode: sandboxMeta.pid === 'NODE' ? 'host' : '',
      UTSMode: hostNetwork ? 'host' : '',
      PortBindings: hostNetwork ? {} : portBindings(config),
      CgroupParent: sandboxMeta.cgroupParent,
      Sysctls: linux?.sysctls ?? {},
      Privileged: !!sc?.privileged,
      ReadonlyRootfs: !!sc?.readonly_rootfs,
      SecurityOpt: await seccompSecurityOpt(sc?.seccomp, sc?.seccomp_profile_path),
      OomScoreAdj: restrictOomScoreAdj(INFRA_OOM_SCORE_ADJ),
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    };
    if (sc?.run_as_user) hc.GroupAdd = (sc.supplemental_groups ?? []).map(String);
    const exposed: Record<string, Record<string, never>> = {};
    for (const key of Object.keys(hc.PortBindings ?? {})) exposed[key] = {};
    const { Id } = await this.engine.containers.create(engineName(POD_INFRA_CONTAINER_NAME, pod, md.attempt), {
      Image: image,
      Hostname: hostNetwork ? '' : config.hostname,
      Labels: engineLabels('sandbox', meta, pod),
      ExposedPorts: exposed,
      User: sc?.run_as_user ? `${sc.run_as_user.value}${sc.run_as_group ? `:${sc.run_as_group.value}` : ''}` : '',
      HostConfig: hc,
    });
    try {
      await this.engine.containers.start(Id);
      if (resolv !== undefined) {
        const rec = this.engine.containers.all().find((r) => r.ID === Id);
        // In place: the infra container's bind mount (and its pod's, later) point at this file.
        if (rec) await writeFile(rec.ResolvConfPath, resolv);
      }
    } catch (err) {
      await this.engine.containers.remove(Id, { force: true, volumes: true, link: false }).catch(() => {});
      throw err;
    }
    return Id;
  }

  /** Stops the pod's containers, then its infra container (which releases the pod's address). */
  async stop(id: string): Promise<void> {
    const sb = this.find(id);
    if (!sb) return; // idempotent: nothing left to stop (the CRI asks runtimes not to fail here)
    await Promise.all(this.containersOf(sb.rec.ID).map((c) => stopQuietly(this.engine, c.ID, 0)));
    await stopQuietly(this.engine, sb.rec.ID, 0);
  }

  async remove(id: string): Promise<void> {
    const sb = this.find(id);
    if (!sb) return; // removing what is gone succeeds, as kubelet expects
    for (const c of this.containersOf(sb.rec.ID)) await removeQuietly(this.engine, c.ID);
    await removeQuietly(this.engine, sb.rec.ID);
  }

  status(id: string, verbose: boolean): PodSandboxStatusResponse {
    const sb = this.get(id);
    const { rec, meta } = sb;
    const ready = hasProcess(rec.State);
    const ip = ready && meta.sandbox.networkName ? rec.NetworkSettings.Networks[meta.sandbox.networkName]?.IPAddress ?? '' : '';
    const res: PodSandboxStatusResponse = {
      status: {
        id: rec.ID,
        metadata: meta.metadata,
        state: ready ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
        created_at: rfc3339ToNanos(rec.Created),
        network: { ip, additional_ips: [] },
        linux: { namespaces: { options: { network: meta.sandbox.network, pid: meta.sandbox.pid, ipc: meta.sandbox.ipc } } },
        labels: meta.labels,
        annotations: meta.annotations,
        runtime_handler: meta.sandbox.runtimeHandler,
      },
      info: {},
      containers_statuses: [],
      timestamp: nowNanos(),
    };
    if (verbose) {
      res.info = {
        info: JSON.stringify({
          pid: rec.State.Pid,
          image: rec.Config.Image,
          engineName: rec.Name.slice(1),
          networkMode: rec.HostConfig.NetworkMode,
          resolvConfPath: rec.ResolvConfPath,
          sandbox: meta.sandbox,
        }),
      };
    }
    return res;
  }

  list(filter: PodSandboxFilter__Output | null): PodSandbox[] {
    let items = this.all();
    if (filter?.id) items = items.filter((s) => s.rec.ID.startsWith(filter.id));
    const want = filter?.state?.state;
    const out: PodSandbox[] = [];
    for (const { rec, meta } of items) {
      const state = hasProcess(rec.State) ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
      if (want && want !== state) continue;
      if (!matchesSelector(meta.labels, filter?.label_selector)) continue;
      out.push({
        id: rec.ID,
        metadata: meta.metadata,
        state,
        created_at: rfc3339ToNanos(rec.Created),
        labels: meta.labels,
        annotations: meta.annotations,
        runtime_handler: meta.sandbox.runtimeHandler,
      });
    }
    return out;
  }
}

/** `<port>/<proto>` -> host bindings; mappings without a host port publish nothing (as containerd's portmap). */
function portBindings(config: PodSandboxConfig__Output): Record<string, PortBinding[]> {
  const out: Record<string, PortBinding[]> = {};
  for (const pm of config.port_mappings ?? []) {
    if (!pm.container_port || pm.container_port <= 0 || pm.container_port > 65535) throw invalidParameter(`invalid container port ${pm.container_port}`);
    if (!pm.host_port || pm.host_port <= 0) continue;
    if (pm.host_port > 65535) throw invalidParameter(`invalid host port ${pm.host_port}`);
    const proto = (pm.protocol || 'TCP').toLowerCase();
    const key = `${pm.container_port}/${proto}`;
    (out[key] ??= []).push({ HostIp: pm.host_ip || '', HostPort: String(pm.host_port) });
  }
  return out;
}

const RESOLV_LINE_SAFE = /^[^\n\r\0]*$/;

export function resolvConf(dns: { servers: string[]; searches: string[]; options: string[] }): string {
  for (const v of [...dns.servers, ...dns.searches, ...dns.options]) {
    if (!RESOLV_LINE_SAFE.test(v) || /\s/.test(v)) throw invalidParameter(`invalid DNS config value ${JSON.stringify(v)}`);
  }
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

async function stopQuietly(engine: CriEngine, id: string, timeout: number): Promise<void> {
  try {
    await engine.containers.stop(id, { timeout });
  } catch (err) {
    if (!isEngineError(err, 'NotModified') && !isEngineError(err, 'NotFound')) throw err;
  }
}

async function removeQuietly(engine: CriEngine, id: string): Promise<void> {
  try {
    await engine.containers.remove(id, { force: true, volumes: true, link: false });
  } catch (err) {
    if (!isEngineError(err, 'NotFound')) throw err;
  }
}
