/** Exec routes: POST /containers/{name}/exec, POST /exec/{id}/start|resize, GET /exec/{id}/json. */
import { invalidParameter } from '../../lib/errors.js';
import { errorMessage } from '../errors.js';
import { hijack, takeUpgradedBody } from '../hijack.js';
import { upgradeOnHeaderAlone } from '../plain-upgrade.js';
import { checkForJSON, intValue, parseJSONBody, readJSONBody, sendEmpty, sendJSON } from '../request.js';
import { decodeJSON, readJSON } from '../json-body.js';
import { EXEC_CREATE, EXEC_START } from '../body-shapes.js';
import type { RequestContext, Router } from '../router.js';
import { versionAtLeast } from '../version.js';
import type { ExecCreateRequest, ExecStartRequest } from '../types.js';
import type { ExecBackend } from '../backend.js';

function backend(ctx: RequestContext): ExecBackend {
  return ctx.backend.exec;
}

function consoleSize(v: unknown): [number, number] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 0)) {
    throw invalidParameter('invalid ConsoleSize: expected [height, width]');
  }
  return [v[0] as number, v[1] as number];
}

async function create(ctx: RequestContext): Promise<void> {
  const body = (await readJSON<ExecCreateRequest>(ctx.req, EXEC_CREATE)) ?? {};
  const req: ExecCreateRequest = { ...body };
  // ConsoleSize is API 1.42+.
  req.ConsoleSize = versionAtLeast(ctx.version, '1.42') ? consoleSize(body.ConsoleSize) : undefined;
  const created = await backend(ctx).create(ctx.params.name!, req);
  sendJSON(ctx.res, 201, { Id: created.Id });
}

/** The start request's JSON body; on an upgraded connection what follows it is stdin. */
async function startBody(ctx: RequestContext): Promise<unknown> {
  if (!ctx.upgrade) return readJSONBody(ctx.req);
  return parseJSONBody((await takeUpgradedBody(ctx)).toString('utf8'));
}

async function start(ctx: RequestContext): Promise<void> {
  checkForJSON(ctx.req);
  await upgradeOnHeaderAlone(ctx);
  const body = decodeJSON<ExecStartRequest>(await startBody(ctx), EXEC_START) ?? {};
  let size = versionAtLeast(ctx.version, '1.42') ? consoleSize(body.ConsoleSize) : undefined;
  if (!body.Tty) size = undefined;
  const id = ctx.params.id!;
  const session = await backend(ctx).start(id, { detach: !!body.Detach, tty: !!body.Tty, consoleSize: size });
  if (!session) return sendEmpty(ctx.res, 200);
  const conn = hijack(ctx, { tty: session.tty });
  if (!session.stdin) conn.stdin.resume();
  try {
    await session.run({ stdin: session.stdin ? conn.stdin : null, stdout: conn.stdout, stderr: conn.stderr });
  } catch (err) {
    // As Docker: once hijacked, the error is written into the output stream.
    if (!conn.stdout.destroyed) conn.stdout.write(Buffer.from(`${errorMessage(err)}\r\n`));
    ctx.log(`exec ${id}: ${errorMessage(err)}`);
  } finally {
    conn.end();
  }
}

export function execRoutes(router: Router): void {
  router.post('/containers/{name:.*}/exec', create);
  router.post('/exec/{id:.*}/start', start);
  router.post('/exec/{id:.*}/resize', async (ctx) => {
    const h = intValue(ctx.query, 'h');
    const w = intValue(ctx.query, 'w');
    if (h === undefined || h < 0) throw invalidParameter(`invalid resize height ${JSON.stringify(ctx.query.get('h') ?? '')}`);
    if (w === undefined || w < 0) throw invalidParameter(`invalid resize width ${JSON.stringify(ctx.query.get('w') ?? '')}`);
    await backend(ctx).resize(ctx.params.id!, h, w);
    sendEmpty(ctx.res, 200);
  });
  router.get('/exec/{id:.*}/json', async (ctx) => sendJSON(ctx.res, 200, await backend(ctx).inspect(ctx.params.id!)));
}
