/**
 * POST /build: Docker's query parameters, the request body as the build context (streamed to
 * the backend, never read whole here), and the JSON message stream of the classic builder.
 * An error before the first message gets an HTTP status (as Docker's unflushed writer does);
 * later it is an in-stream `errorDetail` carrying the failing RUN's exit code, which the Docker
 * CLI exits with. A client that goes away aborts the build.
 */
import { invalidParameter } from '../../lib/errors.js';
import { decodeRegistryConfig } from '../../distribution/auth-config.js';
import { errorMessage } from '../errors.js';
import { boolValue, boolValueOrDefault, drain, intValue } from '../request.js';
import type { RequestContext, Router } from '../router.js';
import type { BuildOptions, BuildStepError } from '../backend.js';
import { checkPlatformSpec } from '../../distribution/manifest.js';

const checkedPlatform = (p: string): string => {
  if (p) checkPlatformSpec(p);
  return p;
};

function jsonParam<T>(q: URLSearchParams, key: string, check: (v: unknown) => v is T, what: string): T | undefined {
  const raw = q.get(key);
  if (raw === null || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw invalidParameter(`invalid ${what} JSON: ${(err as Error).message}`);
  }
  if (v === null) return undefined;
  if (!check(v)) throw invalidParameter(`invalid ${what} JSON`);
  return v;
}

const isStringMap = (nullable: boolean) => (v: unknown): v is Record<string, string | null> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' || (nullable && x === null));
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isUlimits = (v: unknown): v is Array<{ Name: string; Soft: number; Hard: number }> =>
  Array.isArray(v) && v.every((u) => typeof u === 'object' && u !== null && typeof (u as { Name?: unknown }).Name === 'string');

/** The build options of a request; throws InvalidParameter with Docker's messages. */
export function parseBuildOptions(q: URLSearchParams): BuildOptions {
  if (q.get('version') === '2') throw invalidParameter('buildkit not supported by daemon');
  if (boolValue(q, 'squash')) throw invalidParameter('squash is only supported with experimental mode');
  const remote = q.get('remote') ?? '';
  const buildArgs = new Map<string, string | null>(Object.entries(jsonParam(q, 'buildargs', isStringMap(true), 'buildargs') ?? {}));
  const labels = jsonParam(q, 'labels', isStringMap(false), 'labels') as Record<string, string> | undefined;
  const extraHosts = q.getAll('extrahosts').flatMap((h) => h.split(',')).filter((h) => h !== '');
  const opts: BuildOptions = {
    dockerfile: q.get('dockerfile') ?? '',
    tags: q.getAll('t').filter((t) => t !== ''),
    buildArgs,
    target: q.get('target') ?? '',
    noCache: boolValue(q, 'nocache'),
    pull: boolValue(q, 'pull'),
    rm: boolValueOrDefault(q, 'rm', true),
    forceRm: boolValue(q, 'forcerm'),
    labels: labels ?? {},
    networkMode: q.get('networkmode') ?? '',
    extraHosts,
    quiet: boolValue(q, 'q'),
    platform: checkedPlatform(q.get('platform') ?? ''),
    cacheFrom: jsonParam(q, 'cachefrom', isStringList, 'cachefrom') ?? [],
    ...(remote ? { remote } : {}),
  };
  const numbers = { shmsize: 'shmSize', memory: 'memory', memswap: 'memorySwap', cpushares: 'cpuShares', cpuperiod: 'cpuPeriod', cpuquota: 'cpuQuota' } as const;
  for (const [key, field] of Object.entries(numbers)) {
    const v = intValue(q, key);
    if (v !== undefined) opts[field] = v;
  }
  const cpus = q.get('cpusetcpus');
  if (cpus) opts.cpuSetCpus = cpus;
  const mems = q.get('cpusetmems');
  if (mems) opts.cpuSetMems = mems;
  const cgroupParent = q.get('cgroupparent');
  if (cgroupParent) opts.cgroupParent = cgroupParent;
  // moby: security options are Windows' credential specs; isolation is "default" on Linux.
  if (q.getAll('securityopt').length) throw invalidParameter('security options are not supported on linux');
  const isolation = q.get('isolation');
  if (isolation && isolation.toLowerCase() !== 'default') throw invalidParameter(`unsupported isolation: ${JSON.stringify(isolation)}`);
  const ulimits = jsonParam(q, 'ulimits', isUlimits, 'ulimits');
  if (ulimits?.length) opts.ulimits = ulimits;
  return opts;
}

/** Docker's streamformatter error: the code only when there is one. */
function streamError(err: unknown): string {
  const message = errorMessage(err);
  const code = (err as BuildStepError | undefined)?.code;
  const detail = typeof code === 'number' && code !== 0 ? { code, message } : { message };
  return JSON.stringify({ errorDetail: detail, error: message }) + '\r\n';
}

/** Builds started with a `buildid`, which POST /build/cancel?id= ends (moby's classic builder's activeBuilds). */
const activeBuilds = new Map<string, AbortController>();

async function build(ctx: RequestContext): Promise<void> {
  const { req, res } = ctx;
  const backend = ctx.backend.build;
  const opts = parseBuildOptions(ctx.query);
  opts.registryConfig = decodeRegistryConfig(req.headers['x-registry-config']);
  const abort = new AbortController();
  const buildId = ctx.query.get('buildid') ?? '';
  if (buildId) activeBuilds.set(buildId, abort);
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  req.on('aborted', onClose);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'Content-Type': 'application/json' });
  };
  try {
    for await (const msg of backend.build(req, opts, abort.signal)) {
      if (res.destroyed) continue;
      start();
      res.write(JSON.stringify(msg) + '\r\n');
      await drain(res);
    }
  } catch (err) {
    if (!started) throw err;
    if (!res.destroyed) res.write(streamError(err));
  } finally {
    res.off('close', onClose);
    if (buildId && activeBuilds.get(buildId) === abort) activeBuilds.delete(buildId);
  }
  start();
  res.end();
}

export function buildRoutes(router: Router): void {
  router.post('/build', build);
  router.post('/build/cancel', (ctx) => {
    const id = ctx.query.get('id') ?? '';
    if (!id) throw invalidParameter('build ID not provided');
    // A build ID that names no running build is not an error, as in moby.
    activeBuilds.get(id)?.abort();
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.end();
  });
}
