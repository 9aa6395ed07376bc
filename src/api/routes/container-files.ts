/**
 * Routes for a container's files and control: archive (HEAD/GET/PUT), changes, export, commit,
 * pause, unpause, update. Docker's paths, parameters, headers and statuses.
 */
import type { Readable } from 'node:stream';
import { invalidParameter } from '../../lib/errors.js';
import { boolValue, sendEmpty, sendJSON } from '../request.js';
import { readJSON } from '../json-body.js';
import { COMMIT_CONFIG, UPDATE_CONFIG } from '../create-body.js';
import type { RequestContext, Router } from '../router.js';
import type { ContainerConfig, HostConfig } from '../types.js';
import { versionAtLeast } from '../version.js';
import type { ContainerPathStat } from '../types.js';
import type { ContainerControlBackend, ContainerFilesBackend } from '../backend.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function files(ctx: RequestContext): ContainerFilesBackend {
  return ctx.backend.files;
}

function control(ctx: RequestContext): ContainerControlBackend {
  return ctx.backend.control;
}

/** Docker's ArchiveFormValues: `path` is required. */
function archivePath(ctx: RequestContext): string {
  const path = ctx.query.get('path') ?? '';
  if (path === '') throw invalidParameter('bad parameter: path cannot be empty');
  return path;
}

export function encodePathStat(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** Streams a tar to the client; a client that goes away stops the producer. */
function sendTar(ctx: RequestContext, stream: Readable, headers: Record<string, string> = {}): Promise<void> {
  const { res } = ctx;
  res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  return new Promise((resolve) => {
    const done = () => resolve();
    res.once('close', () => {
      if (!stream.readableEnded) stream.destroy();
      done();
    });
    stream.once('error', (err) => {
      ctx.log(`${ctx.req.method} ${ctx.req.url}: ${err.message}`);
      res.destroy();
      done();
    });
    stream.pipe(res);
  });
}

export function containerFileRoutes(router: Router): void {
  const name = (ctx: RequestContext) => ctx.params.name!;

  router.head('/containers/{name:.*}/archive', async (ctx) => {
    const stat = await files(ctx).statPath(name(ctx), archivePath(ctx));
    ctx.res.writeHead(200, { [STAT_HEADER]: encodePathStat(stat), 'Content-Type': 'application/json' });
    ctx.res.end();
  });
  router.get('/containers/{name:.*}/archive', async (ctx) => {
    const { stat, stream } = await files(ctx).archivePath(name(ctx), archivePath(ctx));
    await sendTar(ctx, stream, { [STAT_HEADER]: encodePathStat(stat) });
  });
  router.add('PUT', '/containers/{name:.*}/archive', async (ctx) => {
    const path = archivePath(ctx);
    await files(ctx).extractToDir(name(ctx), path, ctx.req, {
      noOverwriteDirNonDir: boolValue(ctx.query, 'noOverwriteDirNonDir'),
      copyUIDGID: boolValue(ctx.query, 'copyUIDGID'),
    });
    sendEmpty(ctx.res, 200);
  });
  router.get('/containers/{name:.*}/changes', async (ctx) => {
    const changes = await files(ctx).changes(name(ctx));
    // Docker answers null when nothing changed (a nil slice).
    sendJSON(ctx.res, 200, changes.length ? changes : null);
  });
  router.get('/containers/{name:.*}/export', async (ctx) => {
    await sendTar(ctx, await files(ctx).export(name(ctx)));
  });
  router.post('/commit', async (ctx) => {
    const body = await readJSON<ContainerConfig>(ctx.req, COMMIT_CONFIG);
    const q = ctx.query;
    const container = q.get('container') ?? '';
    const result = await files(ctx).commit(container, {
      repo: q.get('repo') || undefined,
      tag: q.get('tag') || undefined,
      comment: q.get('comment') || undefined,
      author: q.get('author') || undefined,
      pause: !(q.has('pause') && !boolValue(q, 'pause')),
      changes: q.getAll('changes'),
      ...(body && typeof body === 'object' ? { config: body } : {}),
    });
    sendJSON(ctx.res, 201, { Id: result.Id });
  });
  router.post('/containers/{name:.*}/pause', async (ctx) => {
    await control(ctx).pause(name(ctx));
    sendEmpty(ctx.res, 204);
  });
  router.post('/containers/{name:.*}/unpause', async (ctx) => {
    await control(ctx).unpause(name(ctx));
    sendEmpty(ctx.res, 204);
  });
  router.post('/containers/{name:.*}/update', async (ctx) => {
    const body = (await readJSON<Partial<HostConfig>>(ctx.req, UPDATE_CONFIG)) ?? {};
    const update: Partial<HostConfig> = { ...body };
    if (!versionAtLeast(ctx.version, '1.40')) delete update.PidsLimit;
    // 0 and -1 both mean "unlimited" when updating.
    if (update.PidsLimit !== undefined && update.PidsLimit !== null && update.PidsLimit <= 0) update.PidsLimit = 0;
    sendJSON(ctx.res, 200, await control(ctx).update(name(ctx), update));
  });
}
