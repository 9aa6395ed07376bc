/**
 * The Dockerfile frontend's options (BuildKit's `dockerfile.v0` frontend attributes, as buildx
 * sets them from `docker build` flags) in the classic builder's terms. What the classic builder
 * cannot do (several platforms at once) is refused by name; attributes that
 * only steer BuildKit's own machinery are ignored, as its frontend ignores what it does not know.
 */
import { GrpcError, Status } from './grpc.js';

export interface FrontendOptions {
  /** The Dockerfile's name in the directory shared as `dockerfile`. */
  filename: string;
  target: string;
  buildArgs: Map<string, string>;
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  networkMode: string;
  extraHosts: string[];
  platform: string;
  /** The RUN steps' hostname: BuildKit's sandbox's unless named (`hostname`, or the BUILDKIT_SANDBOX_HOSTNAME build arg). */
  hostname: string;
  /** The client granted the `network.host` entitlement (Control.Solve's, not an attribute): a RUN may use the host's network. */
  networkHostAllowed: boolean;
  /** BUILDKIT_CACHE_MOUNT_NS: the namespace of the build's cache mount ids ('' for none). */
  cacheMountNamespace: string;
  shmSize?: number;
  cgroupParent?: string;
  ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
}

function invalid(msg: string): GrpcError {
  return new GrpcError(Status.INVALID_ARGUMENT, msg);
}

function parseUlimits(value: string): Array<{ Name: string; Soft: number; Hard: number }> {
  return value
    .split(',')
    .filter((u) => u !== '')
    .map((u) => {
      const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
      if (!m) throw invalid(`invalid ulimit ${JSON.stringify(u)}`);
      const soft = Number(m[2]);
      return { Name: m[1]!, Soft: soft, Hard: m[3] === undefined ? soft : Number(m[3]) };
    });
}

/** `entitlements`: what the client's Solve request grants (`network.host`…). */
export function frontendOptions(attrs: Record<string, string>, entitlements: readonly string[] = []): FrontendOptions {
  const opts: FrontendOptions = {
    filename: attrs.filename || 'Dockerfile',
    target: attrs.target ?? '',
    buildArgs: new Map(),
    labels: {},
    noCache: 'no-cache' in attrs,
    pull: attrs['image-resolve-mode'] === 'pull',
    networkMode: '',
    extraHosts: [],
    platform: '',
    hostname: 'buildkitsandbox',
    networkHostAllowed: entitlements.includes('network.host'),
    cacheMountNamespace: attrs['build-arg:BUILDKIT_CACHE_MOUNT_NS'] ?? '',
  };
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('build-arg:')) {
      if (!key.startsWith('build-arg:BUILDKIT_')) opts.buildArgs.set(key.slice('build-arg:'.length), value);
      continue;
    }
    if (key.startsWith('label:')) {
      opts.labels[key.slice('label:'.length)] = value;
      continue;
    }
    // Named contexts (build/named-contexts.ts) are looked up as the build meets their names.
    if (key.startsWith('context:') || key.startsWith('input:')) continue;
    switch (key) {
      case 'requestid':
        // A frontend subrequest (`--call outline|targets|check`, `--print`) instead of a build: wharfd's
        // frontend answers none, as BuildKit's does for a request it does not know (buildx then says so).
        throw new GrpcError(Status.UNKNOWN, `unsupported request ${value}`);
      case 'filename':
      case 'target':
      case 'no-cache':
        break;
      case 'force-network-mode':
        opts.networkMode = value === 'sandbox' ? '' : value;
        break;
      case 'add-hosts':
        // BuildKit's `host=ip` pairs; the classic builder's are `host:ip`.
        opts.extraHosts = value
          .split(',')
          .filter((h) => h !== '')
          .map((h) => h.replace('=', ':'));
        break;
      case 'platform':
        if (value.includes(',')) throw new GrpcError(Status.UNIMPLEMENTED, `building for several platforms (${value}) is not supported by wharfd's builder`);
        opts.platform = value;
        break;
      case 'shm-size': {
        const n = Number(value);
        if (!Number.isSafeInteger(n) || n < 0) throw invalid(`invalid shm-size ${JSON.stringify(value)}`);
        opts.shmSize = n;
        break;
      }
      case 'cgroup-parent':
        opts.cgroupParent = value;
        break;
      case 'hostname':
        if (value) opts.hostname = value;
        break;
      case 'ulimit':
        opts.ulimits = parseUlimits(value);
        break;
      default:
      // As BuildKit's frontend does, other attributes (attestations, cache imports, caps) are left alone.
    }
  }
  // BuildKit's frontend: the build arg names the sandbox's hostname over the attribute.
  if (attrs['build-arg:BUILDKIT_SANDBOX_HOSTNAME']) opts.hostname = attrs['build-arg:BUILDKIT_SANDBOX_HOSTNAME'];
  return opts;
}
