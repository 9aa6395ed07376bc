/**
 * How CRI objects live as engine containers, the way Docker's dockershim kept them: the
 * `io.kubernetes.*` labels (so `docker ps` shows pods), the CRI labels as labels, annotations as
 * `annotation.<key>` labels, and one JSON label with what rebuilding the CRI view needs after a
 * restart (metadata, the exact labels and annotations, the log path, the sandbox config).
 */
import type { ContainerRecord } from '../../container/container.js';

export const LABEL_TYPE = 'io.kubernetes.docker.type';
const LABEL_POD_NAME = 'io.kubernetes.pod.name';
const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
const LABEL_POD_UID = 'io.kubernetes.pod.uid';
const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';
/** The CRI view of the object as JSON (CriMeta). */
export const LABEL_CRI_META = 'io.wharf.cri.meta';

export const TYPE_SANDBOX = 'podsandbox';
export const TYPE_CONTAINER = 'container';
/** dockershim's container name of a sandbox's infra container. */
export const POD_INFRA_CONTAINER_NAME = 'POD';

const ANNOTATION_PREFIX = 'annotation.';

export interface CriMeta {
  metadata: { name: string; uid?: string; namespace?: string; attempt: number };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Containers: the image as the client named it, and where the log goes. */
  image?: string;
  logPath?: string;
  mounts?: unknown[];
  /** Sandboxes: the config as RunPodSandbox got it (namespace options, log dir, DNS, ports…). */
  sandbox?: SandboxMeta;
}

export interface SandboxMeta {
  logDirectory: string;
  runtimeHandler: string;
  network: 'POD' | 'NODE';
  pid: 'POD' | 'NODE' | 'CONTAINER';
  ipc: 'POD' | 'NODE';
  cgroupParent: string;
  /** The pod's network, when not on the host's. */
  networkName?: string;
}

/** Engine labels for a CRI object: dockershim's, the CRI labels, annotations, and the meta. */
export function engineLabels(kind: 'sandbox' | 'container', meta: CriMeta, pod: { name: string; namespace: string; uid: string }, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...meta.labels };
  for (const [k, v] of Object.entries(meta.annotations)) out[ANNOTATION_PREFIX + k] = v;
  Object.assign(out, extra, {
    [LABEL_TYPE]: kind === 'sandbox' ? TYPE_SANDBOX : TYPE_CONTAINER,
    [LABEL_POD_NAME]: pod.name,
    [LABEL_POD_NAMESPACE]: pod.namespace,
    [LABEL_POD_UID]: pod.uid,
    [LABEL_CONTAINER_NAME]: kind === 'sandbox' ? POD_INFRA_CONTAINER_NAME : meta.metadata.name,
    [LABEL_CRI_META]: JSON.stringify(meta),
  });
  return out;
}

/** The CRI meta of an engine container that the CRI made; undefined for any other container. */
export function criMetaOf(rec: ContainerRecord, kind: 'sandbox' | 'container'): CriMeta | undefined {
  const labels = rec.Config.Labels ?? {};
  if (labels[LABEL_TYPE] !== (kind === 'sandbox' ? TYPE_SANDBOX : TYPE_CONTAINER)) return undefined;
  const raw = labels[LABEL_CRI_META];
  if (!raw) return undefined;
  try {
    const meta = JSON.parse(raw) as CriMeta;
    return meta && typeof meta === 'object' && meta.metadata ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** Docker's name alphabet ([a-zA-Z0-9][a-zA-Z0-9_.-]*): other characters become '-'. */
const nameSafe = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, '-');

/** dockershim's engine names: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>. */
export function engineName(container: string, pod: { name: string; namespace: string; uid: string }, attempt: number): string {
  return ['k8s', container, pod.name, pod.namespace, pod.uid, String(attempt)].map(nameSafe).join('_');
}

/** Does `labels` carry every key=value of `selector` (a ListPodSandbox/ListContainers label filter)? */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}
