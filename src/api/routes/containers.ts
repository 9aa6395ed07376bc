/** Container routes: Docker's paths, query parameters and status codes over ContainerBackend. */
import { invalidParameter, isEngineError } from '../../lib/errors.js';
import type { WaitCondition } from '../backend.js';
import { decodeCreateBody } from '../create-body.js';
import { adaptCreateBody } from '../create-compat.js';
import { errorMessage } from '../errors.js';
import { upgradeOnHeaderAlone } from '../plain-upgrade.js';
import { hijack, MULTIPLEXED_STREAM, RAW_STREAM, refuseHijack, takeUpgradedBody } from '../hijack.js';
import {
  boolValue,
  checkForJSON,
  drain,
  intValue,
  parseFilters,
  readJSONBody,
  sendEmpty,
  sendJSON,
} from '../request.js';
import type { RequestContext, Router } from '../router.js';
import { frame, STDERR, STDOUT } from '../stdcopy.js';
import type { ContainerInspect, WaitResponse } from '../types.js';
import { versionAtLeast } from '../version.js';
import { detailsPrefix, parseLogTime, parseTail, rfc3339NanoFixed } from './logs-format.js';
import { attachOptions, attachWebSocket } from './attach-ws.js';

const WAIT_CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

async function create(ctx: RequestContext): Promise<void> {
  checkForJSON(ctx.req);
  const body = decodeCreateBody(await readJSONBody(ctx.req));
  const name = ctx.query.get('name') || undefined;
  const platform = ctx.query.get('platform') || undefined;
  const warnings = adaptCreateBody(body, ctx.version);
  const created = await ctx.backend.containers.create(name, body, platform, versionAtLeast(ctx.version, '1.44') ? {} : { readOnlyNonRecursive: true });
  sendJSON(ctx.res, 201, { Id: created.Id, Warnings: [...warnings, ...(created.Warnings ?? [])] });
}

async function list(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  const limit = intValue(query, 'limit');
  const result = await ctx.backend.containers.list({
    all: boolValue(query, 'all'),
    limit: limit !== undefined && limit > 0 ? limit : undefined,
    size: boolValue(query, 'size'),
    filters: parseFilters(query.get('filters')),
  });
  sendJSON(ctx.res, 200, result);
}

/** `?t=` and (API >= 1.42) `?signal=` of stop and restart. */
function stopOptions(ctx: RequestContext): { signal?: string; timeout?: number } {
  const opts: { signal?: string; timeout?: number } = {};
  const t = intValue(ctx.query, 't');
  if (t !== undefined) opts.timeout = t;
  const signal = ctx.query.get('signal');
  if (signal && versionAtLeast(ctx.version, '1.42')) opts.signal = signal;
  return opts;
}

/** 204, or 304 when the backend says nothing changed (already started / stopped). */
async function noContentOr304(ctx: RequestContext, op: () => Promise<void>): Promise<void> {
  try {
    await op();
  } catch (err) {
    if (isEngineError(err, 'NotModified')) return sendEmpty(ctx.res, 304);
    throw err;
  }
  sendEmpty(ctx.res, 204);
}

async function wait(ctx: RequestContext): Promise<void> {
  const raw = ctx.query.get('condition') ?? '';
  const condition = (raw === '' ? 'not-running' : raw) as WaitCondition;
  if (!WAIT_CONDITIONS.includes(condition)) throw invalidParameter(`invalid condition: ${JSON.stringify(raw)}`);
  // Registering the waiter may fail (no such container): that is still an HTTP error.
  const handle = await ctx.backend.containers.wait(ctx.params.name!, condition);
  const { res } = ctx;
  // Docker sends the status line at once, so the client knows the waiter is in place.
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  // A client that goes away drops its waiter.
  let onClose!: () => void;
  const gone = new Promise<undefined>((resolve) => {
    onClose = () => resolve(undefined);
    res.once('close', onClose);
  });
  let result: WaitResponse | undefined;
  try {
    result = await Promise.race([handle.result, gone]);
  } catch (err) {
    result = { StatusCode: -1, Error: { Message: errorMessage(err) } };
  } finally {
    res.off('close', onClose);
  }
  if (!result) return handle.cancel();
  // Docker omits a null Error (omitempty).
  const out: WaitResponse = { StatusCode: result.StatusCode };
  if (result.Error) out.Error = { Message: result.Error.Message };
  if (!res.destroyed) res.end(JSON.stringify(out) + '\n');
}

async function attach(ctx: RequestContext): Promise<void> {
  const opts = attachOptions(ctx.query);
  await upgradeOnHeaderAlone(ctx);
  // dockerode sends its options as a JSON body too: never the container's stdin.
  await takeUpgradedBody(ctx);
  let session: Awaited<ReturnType<typeof ctx.backend.containers.attach>>;
  try {
    session = await ctx.backend.containers.attach(ctx.params.name!, opts);
  } catch (err) {
    refuseHijack(ctx, err);
    return;
  }
  const conn = hijack(ctx, { tty: session.tty });
  if (!opts.stdin) conn.stdin.resume();
  try {
    await session.run({ stdin: opts.stdin ? conn.stdin : null, stdout: conn.stdout, stderr: conn.stderr });
  } catch (err) {
    ctx.log(`attach ${ctx.params.name}: ${errorMessage(err)}`);
  } finally {
    conn.end();
  }
}

async function logs(ctx: RequestContext): Promise<void> {
  const { query, res } = ctx;
  const stdout = boolValue(query, 'stdout');
  const stderr = boolValue(query, 'stderr');
  if (!stdout && !stderr) throw invalidParameter('Bad parameters: you must choose at least one stream');
  const timestamps = boolValue(query, 'timestamps');
  const since = parseLogTime(query.get('since'), 'since');
  const until = parseLogTime(query.get('until'), 'until');
  const tail = parseTail(query.get('tail'));
  const result = await ctx.backend.containers.logs(ctx.params.name!, {
    follow: boolValue(query, 'follow'),
    stdout,
    stderr,
    timestamps,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(tail !== undefined ? { tail } : {}),
  });
  const mux = !result.tty;
  const details = boolValue(query, 'details') ? detailsPrefix(result.attributes ?? {}) : '';
  const contentType = mux && versionAtLeast(ctx.version, '1.42') ? MULTIPLEXED_STREAM : RAW_STREAM;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  let closed = false;
  const onClose = () => {
    closed = true;
    result.close();
  };
  res.once('close', onClose);
  try {
    for await (const entry of result.entries) {
      if (closed) break;
      const prefix = (timestamps ? rfc3339NanoFixed(entry.time) + ' ' : '') + details;
      const data = prefix ? Buffer.concat([Buffer.from(prefix), entry.data]) : entry.data;
      res.write(mux ? frame(entry.stream === 'stderr' ? STDERR : STDOUT, data) : data);
      await drain(res);
    }
  } catch (err) {
    if (!closed) {
      const msg = Buffer.from(`Error grabbing logs: ${errorMessage(err)}\n`);
      res.write(mux ? frame(STDERR, msg) : msg);
    }
  } finally {
    res.off('close', onClose);
    result.close();
    if (!res.destroyed) res.end();
  }
}

const BUILTIN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

/** Below API 1.45 Docker listed the short ID and the hostname among a user-defined network's aliases. */
export function addLegacyAliases(inspect: ContainerInspect): void {
  const extra = [inspect.Id.slice(0, 12), inspect.Config.Hostname ?? ''];
  for (const [network, ep] of Object.entries(inspect.NetworkSettings.Networks ?? {})) {
    if (!ep || BUILTIN_NETWORKS.has(network) || network.startsWith('container:')) continue;
    ep.Aliases = [...new Set([...(ep.Aliases ?? []), ...extra])];
  }
}

export function containerRoutes(router: Router): void {
  const c = (ctx: RequestContext) => ctx.backend.containers;
  const name = (ctx: RequestContext) => ctx.params.name!;

  router.get('/containers/json', list);
  router.post('/containers/create', create);
  router.post('/containers/prune', async (ctx) =>
    sendJSON(ctx.res, 200, await c(ctx).prune(parseFilters(ctx.query.get('filters')))),
  );
  router.get('/containers/{name:.*}/json', async (ctx) => {
    const inspect = await c(ctx).inspect(name(ctx), { size: boolValue(ctx.query, 'size') });
    if (!versionAtLeast(ctx.version, '1.45')) addLegacyAliases(inspect);
    sendJSON(ctx.res, 200, inspect);
  });
  router.get('/containers/{name:.*}/top', async (ctx) =>
    sendJSON(ctx.res, 200, await c(ctx).top(name(ctx), ctx.query.get('ps_args') || undefined)),
  );
  router.get('/containers/{name:.*}/logs', logs);
  router.post('/containers/{name:.*}/start', (ctx) => noContentOr304(ctx, () => c(ctx).start(name(ctx))));
  router.post('/containers/{name:.*}/stop', (ctx) => {
    const opts = stopOptions(ctx);
    return noContentOr304(ctx, () => c(ctx).stop(name(ctx), opts));
  });
  router.post('/containers/{name:.*}/restart', async (ctx) => {
    await c(ctx).restart(name(ctx), stopOptions(ctx));
    sendEmpty(ctx.res, 204);
  });
  router.post('/containers/{name:.*}/kill', async (ctx) => {
    await c(ctx).kill(name(ctx), ctx.query.get('signal') || undefined);
    sendEmpty(ctx.res, 204);
  });
  router.post('/containers/{name:.*}/rename', async (ctx) => {
    await c(ctx).rename(name(ctx), ctx.query.get('name') ?? '');
    sendEmpty(ctx.res, 204);
  });
  router.post('/containers/{name:.*}/resize', async (ctx) => {
    const h = intValue(ctx.query, 'h');
    const w = intValue(ctx.query, 'w');
    if (h === undefined || h < 0) throw invalidParameter(`invalid resize height ${JSON.stringify(ctx.query.get('h') ?? '')}`);
    if (w === undefined || w < 0) throw invalidParameter(`invalid resize width ${JSON.stringify(ctx.query.get('w') ?? '')}`);
    await c(ctx).resize(name(ctx), h, w);
    sendEmpty(ctx.res, 200);
  });
  router.post('/containers/{name:.*}/wait', wait);
  router.post('/containers/{name:.*}/attach', attach);
  router.get('/containers/{name:.*}/attach/ws', attachWebSocket);
  router.delete('/containers/{name:.*}', async (ctx) => {
    await c(ctx).remove(name(ctx), {
      force: boolValue(ctx.query, 'force'),
      volumes: boolValue(ctx.query, 'v'),
      link: boolValue(ctx.query, 'link'),
    });
    sendEmpty(ctx.res, 204);
  });
}
