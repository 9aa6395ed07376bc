/**
 * CRI containers as engine containers in their sandbox's namespaces (dockershim's mapping): the
 * container ID is the engine container ID; create maps the CRI config onto Docker's Config and
 * HostConfig, so the engine's create/start/stop/rm do the work and `docker ps` shows the result.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import type { HostConfig, MountSpec } from '../../api/types.js';
import type { ContainerRecord } from '../../container/container.js';
import type { ContainerConfig__Output } from '../../cri/gen/runtime/v1/ContainerConfig.js';
import type { Container } from '../../cri/gen/runtime/v1/Container.js';
import type { ContainerFilter__Output } from '../../cri/gen/runtime/v1/ContainerFilter.js';
import type { ContainerStatusResponse } from '../../cri/gen/runtime/v1/ContainerStatusResponse.js';
import type { ContainerState__Output } from '../../cri/gen/runtime/v1/ContainerState.js';
import type { LinuxContainerResources__Output } from '../../cri/gen/runtime/v1/LinuxContainerResources.js';
import type { Mount__Output } from '../../cri/gen/runtime/v1/Mount.js';
import type { PodSandboxConfig__Output } from '../../cri/gen/runtime/v1/PodSandboxConfig.js';
import { hasProcess, isZeroTime } from '../../container/state.js';
import { invalidParameter, isEngineError, notFound } from '../../lib/errors.js';
import type { CriEngine } from './engine.js';
import { criMetaOf, engineLabels, engineName, LABEL_SANDBOX_ID, matchesSelector, type CriMeta } from './labels.js';
import { byIdOrPrefix, type PodSandboxes, type Sandbox } from './pods.js';
import { restrictOomScoreAdj, seccompSecurityOpt } from './security.js';
import { rfc3339ToNanos } from './time.js';

export interface CriContainer {
  rec: ContainerRecord;
  meta: CriMeta;
}

const PROPAGATION: Record<string, string> = {
  PROPAGATION_PRIVATE: 'rprivate',
  PROPAGATION_HOST_TO_CONTAINER: 'rslave',
  PROPAGATION_BIDIRECTIONAL: 'rshared',
};

export function criState(rec: ContainerRecord): ContainerState__Output {
  const s = rec.State;
  if (s.Running || s.Paused || s.Restarting) return 'CONTAINER_RUNNING';
  if (s.Status === 'created') return 'CONTAINER_CREATED';
  if (s.Status === 'exited' || s.Dead) return 'CONTAINER_EXITED';
  return 'CONTAINER_UNKNOWN';
}

const int = (v: string | undefined): number => (v ? Number(v) : 0);

export class CriContainers {
  constructor(
    private readonly engine: CriEngine,
    private readonly pods: PodSandboxes,
  ) {}

  all(): CriContainer[] {
    const out: CriContainer[] = [];
    for (const rec of this.engine.containers.all()) {
      const meta = criMetaOf(rec, 'container');
      if (meta) out.push({ rec, meta });
    }
    return out;
  }

  find(id: string): CriContainer | undefined {
    return byIdOrPrefix(this.all(), id);
  }

  get(id: string): CriContainer {
    const c = this.find(id);
    if (!c) throw notFound(`container ${JSON.stringify(id)} not found`);
    return c;
  }

  async create(sandboxId: string, config: ContainerConfig__Output | null, sandboxConfig: PodSandboxConfig__Output | null): Promise<string> {
    const sb = this.pods.get(sandboxId);
    const md = config?.metadata;
    if (!config || !md?.name) throw invalidParameter('container config must include metadata with a name');
    const image = config.image?.image;
    if (!image) throw invalidParameter('container config must name an image');
    const logPath = containerLogPath(sb.meta.sandbox.logDirectory || sandboxConfig?.log_directory || '', config.log_path);
    const mounts = await bindMounts(config.mounts ?? []);
    const meta: CriMeta = {
      metadata: { name: md.name, attempt: md.attempt },
      labels: config.labels ?? {},
      annotations: config.annotations ?? {},
      image,
      logPath,
      mounts: config.mounts ?? [],
    };
    const pod = { name: sb.meta.metadata.name, namespace: sb.meta.metadata.namespace ?? '', uid: sb.meta.metadata.uid ?? '' };
    const hc = await this.hostConfig(sb, config, mounts);
    const user = userOf(config);
    const { Id } = await this.engine.containers.create(engineName(md.name, pod, md.attempt), {
      Image: image,
      Entrypoint: config.command.length ? config.command : undefined,
      Cmd: config.args.length ? config.args : config.command.length ? [] : undefined,
      WorkingDir: config.working_dir || '',
      Env: (config.envs ?? []).map((kv) => `${kv.key}=${kv.value}`),
      Labels: engineLabels('container', meta, pod, { [LABEL_SANDBOX_ID]: sb.rec.ID }),
      Tty: config.tty,
      OpenStdin: config.stdin,
      StdinOnce: config.stdin_once,
      AttachStdin: false,
      User: user,
      HostConfig: hc,
    });
    if (logPath) {
      try {
        await mkdir(dirname(logPath), { recursive: true });
        // conmon writes the CRI log format; point it (and `docker logs`) at kubelet's path.
        await this.engine.containers.updateRecord(Id, (rec) => {
          rec.LogPath = logPath;
        });
      } catch (err) {
        await this.engine.containers.remove(Id, { force: true, volumes: true, link: false }).catch(() => {});
        throw err;
      }
    }
    return Id;
  }

  private async hostConfig(sb: Sandbox, config: ContainerConfig__Output, mounts: MountSpec[]): Promise<HostConfig> {
    const linux = config.linux;
    const sc = linux?.security_context;
    const res = linux?.resources;
    const infra = `container:${sb.rec.ID}`;
    const ns = sc?.namespace_options;
    const hc: HostConfig = {
      NetworkMode: infra,
      IpcMode: sb.meta.sandbox.ipc === 'NODE' ? 'host' : infra,
      PidMode: ns?.pid === 'NODE' ? 'host' : ns?.pid === 'POD' ? infra : ns?.pid === 'TARGET' && ns.target_id ? `container:${this.get(ns.target_id).rec.ID}` : '',
      UTSMode: sb.meta.sandbox.network === 'NODE' ? 'host' : '',
      CgroupParent: sb.meta.sandbox.cgroupParent,
      Mounts: mounts,
      Devices: (config.devices ?? []).map((d) => ({ PathOnHost: d.host_path, PathInContainer: d.container_path, CgroupPermissions: d.permissions || 'rwm' })),
      Privileged: !!sc?.privileged,
      ReadonlyRootfs: !!sc?.readonly_rootfs,
      CapAdd: sc?.capabilities?.add_capabilities ?? [],
      CapDrop: sc?.capabilities?.drop_capabilities ?? [],
      GroupAdd: (sc?.supplemental_groups ?? []).map(String),
      SecurityOpt: [...(await seccompSecurityOpt(sc?.seccomp, sc?.seccomp_profile_path)), ...(sc?.no_new_privs ? ['no-new-privileges'] : [])],
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      ...resourcesOf(res),
    };
    if (sc?.masked_paths?.length) hc.MaskedPaths = sc.masked_paths;
    if (sc?.readonly_paths?.length) hc.ReadonlyPaths = sc.readonly_paths;
    return hc;
  }

  async start(id: string): Promise<void> {
    await this.engine.containers.start(this.get(id).rec.ID);
  }

  async stop(id: string, timeout: number): Promise<void> {
    const c = this.get(id);
    try {
      await this.engine.containers.stop(c.rec.ID, { timeout: Math.max(0, timeout) });
    } catch (err) {
      if (!isEngineError(err, 'NotModified')) throw err;
    }
  }

  async remove(id: string): Promise<void> {
    const c = this.find(id);
    if (!c) return; // already gone: success, as kubelet expects
    try {
      await this.engine.containers.remove(c.rec.ID, { force: true, volumes: true, link: false });
    } catch (err) {
      if (!isEngineError(err, 'NotFound')) throw err;
    }
  }

  list(filter: ContainerFilter__Output | null): Container[] {
    let items = this.all();
    if (filter?.id) items = items.filter((c) => c.rec.ID.startsWith(filter.id));
    if (filter?.pod_sandbox_id) {
      const sandbox = filter.pod_sandbox_id;
      items = items.filter((c) => (c.rec.Config.Labels?.[LABEL_SANDBOX_ID] ?? '').startsWith(sandbox));
    }
    const out: Container[] = [];
    for (const { rec, meta } of items) {
      const state = criState(rec);
      if (filter?.state?.state && filter.state.state !== state) continue;
      if (!matchesSelector(meta.labels, filter?.label_selector)) continue;
      out.push({
        id: rec.ID,
        pod_sandbox_id: rec.Config.Labels?.[LABEL_SANDBOX_ID] ?? '',
        metadata: meta.metadata,
        image: { image: meta.image ?? rec.Config.Image ?? '' },
        image_ref: rec.Image,
        state,
        created_at: rfc3339ToNanos(rec.Created),
        labels: meta.labels,
        annotations: meta.annotations,
      });
    }
    return out;
  }

  status(id: string, verbose: boolean): ContainerStatusResponse {
    const { rec, meta } = this.get(id);
    const s = rec.State;
    const state = criState(rec);
    let reason = '';
    if (state === 'CONTAINER_EXITED') reason = s.OOMKilled ? 'OOMKilled' : s.ExitCode === 0 ? 'Completed' : 'Error';
    const hc = rec.HostConfig;
    const res: ContainerStatusResponse = {
      status: {
        id: rec.ID,
        metadata: meta.metadata,
        state,
        created_at: rfc3339ToNanos(rec.Created),
        started_at: isZeroTime(s.StartedAt) ? '0' : rfc3339ToNanos(s.StartedAt),
        finished_at: state === 'CONTAINER_EXITED' ? rfc3339ToNanos(s.FinishedAt) : '0',
        exit_code: state === 'CONTAINER_EXITED' ? s.ExitCode : 0,
        image: { image: meta.image ?? rec.Config.Image ?? '' },
        image_ref: rec.Image,
        reason,
        message: s.Error ?? '',
        labels: meta.labels,
        annotations: meta.annotations,
        mounts: (meta.mounts ?? []) as Mount__Output[],
        log_path: meta.logPath ?? '',
        resources: {
          linux: {
            cpu_period: String(hc.CpuPeriod ?? 0),
            cpu_quota: String(hc.CpuQuota ?? 0),
            cpu_shares: String(hc.CpuShares ?? 0),
            memory_limit_in_bytes: String(hc.Memory ?? 0),
            oom_score_adj: String(hc.OomScoreAdj ?? 0),
            cpuset_cpus: hc.CpusetCpus ?? '',
            cpuset_mems: hc.CpusetMems ?? '',
            memory_swap_limit_in_bytes: String(hc.MemorySwap ?? 0),
          },
        },
      },
      info: {},
    };
    if (verbose) {
      res.info = {
        info: JSON.stringify({
          sandboxID: rec.Config.Labels?.[LABEL_SANDBOX_ID] ?? '',
          pid: hasProcess(s) ? s.Pid : 0,
          engineName: rec.Name.slice(1),
          privileged: !!hc.Privileged,
          user: rec.Config.User ?? '',
          entrypoint: rec.Path,
          args: rec.Args,
          hostConfig: { NetworkMode: hc.NetworkMode, IpcMode: hc.IpcMode, PidMode: hc.PidMode, CgroupParent: hc.CgroupParent },
        }),
      };
    }
    return res;
  }

  async updateResources(id: string, res: LinuxContainerResources__Output | null): Promise<void> {
    const c = this.get(id);
    if (!res) return;
    const { OomScoreAdj: _ignored, ...update } = resourcesOf(res);
    await this.engine.control.update(c.rec.ID, update);
  }
}

function resourcesOf(res: LinuxContainerResources__Output | null | undefined): Partial<HostConfig> {
  if (!res) return {};
  const out: Partial<HostConfig> = {};
  if (int(res.cpu_period)) out.CpuPeriod = int(res.cpu_period);
  if (int(res.cpu_quota)) out.CpuQuota = int(res.cpu_quota);
  if (int(res.cpu_shares)) out.CpuShares = int(res.cpu_shares);
  if (int(res.memory_limit_in_bytes)) out.Memory = int(res.memory_limit_in_bytes);
  if (int(res.memory_swap_limit_in_bytes)) out.MemorySwap = int(res.memory_swap_limit_in_bytes);
  if (res.cpuset_cpus) out.CpusetCpus = res.cpuset_cpus;
  if (res.cpuset_mems) out.CpusetMems = res.cpuset_mems;
  if (int(res.oom_score_adj)) out.OomScoreAdj = restrictOomScoreAdj(int(res.oom_score_adj));
  return out;
}

/** `uid[:gid]` or `name[:gid]`; a group without a user is refused, as containerd does. */
export function userOf(config: ContainerConfig__Output): string {
  const sc = config.linux?.security_context;
  const user = sc?.run_as_user ? String(sc.run_as_user.value) : sc?.run_as_username || '';
  const group = sc?.run_as_group ? String(sc.run_as_group.value) : '';
  if (group && !user) throw invalidParameter(`user group "${group}" is specified without user`);
  return group ? `${user}:${group}` : user;
}

/** kubelet's log path: the sandbox's log directory joined with the container's relative log path. */
export function containerLogPath(dir: string, rel: string): string {
  if (!dir || !rel) return '';
  if (!isAbsolute(dir)) throw invalidParameter(`log directory ${JSON.stringify(dir)} must be absolute`);
  const path = join(dir, rel);
  const inside = relative(dir, path);
  if (!inside || inside.startsWith('..') || isAbsolute(inside)) throw invalidParameter(`log path ${JSON.stringify(rel)} leaves the log directory`);
  return path;
}

/**
 * CRI mounts as bind mounts: the host path's symlinks resolved (as containerd does) and a missing
 * path created as a directory (kubelet's hostPath DirectoryOrCreate leaves that to the runtime).
 */
export async function bindMounts(mounts: Mount__Output[]): Promise<MountSpec[]> {
  const out: MountSpec[] = [];
  for (const m of mounts) {
    if (!isAbsolute(m.host_path) || !isAbsolute(m.container_path)) {
      throw invalidParameter(`mount ${JSON.stringify(m.host_path)}:${JSON.stringify(m.container_path)}: paths must be absolute`);
    }
    const exists = await stat(m.host_path).then(() => true, () => false);
    if (!exists) await mkdir(m.host_path, { recursive: true, mode: 0o755 });
    out.push({
      Type: 'bind',
      Source: await realpath(m.host_path),
      Target: m.container_path,
      ReadOnly: m.readonly,
      // A CRI read-only mount is read-only on its top mount only, as containerd makes it (recursive
      // read-only is a field of CRI 1.30, which this API predates).
      BindOptions: { Propagation: PROPAGATION[m.propagation] ?? 'rprivate', ...(m.readonly ? { ReadOnlyNonRecursive: true } : {}) },
    });
  }
  return out;
}
