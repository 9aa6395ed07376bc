import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conflict, forbidden, noSuchContainer, notModified, systemError, unavailable, invalidParameter } from '../../../src/lib/errors.js';
import { API_VERSION, MIN_API_VERSION, compareVersions } from '../../../src/api/version.js';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router, type RequestContext } from '../../../src/api/router.js';
import { request, startStubServer, type TestServer } from './helpers.js';

describe('api router', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startStubServer({
      containers: {
        inspect: async (ref) => {
          if (ref === 'missing') throw noSuchContainer(ref);
          if (ref === 'conflict') throw conflict('Conflict. The container name "/x" is already in use by container "y"');
          if (ref === 'forbidden') throw forbidden('nope');
          if (ref === 'busy') throw unavailable('later');
          if (ref === 'sys') throw systemError('disk on fire');
          if (ref === 'bad') throw invalidParameter('bad ref');
          if (ref === 'plain') throw new Error('plain error');
          return { Id: ref } as never;
        },
        start: async (ref) => {
          if (ref === 'running') throw notModified();
        },
      },
    });
  });
  after(() => srv.close());

  it('serves versioned and unversioned paths alike', async () => {
    const a = await request(srv.sock, 'GET', '/v1.45/containers/abc/json');
    const b = await request(srv.sock, 'GET', '/containers/abc/json');
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual(a.json(), { Id: 'abc' });
    assert.deepEqual(b.json(), { Id: 'abc' });
  });

  it('sets the common headers on every response, errors of a route included', async () => {
    for (const path of ['/_ping', '/containers/missing/json']) {
      const r = await request(srv.sock, 'GET', path);
      assert.equal(r.headers['api-version'], API_VERSION, path);
      assert.equal(r.headers['docker-experimental'], 'false', path);
      assert.equal(r.headers['ostype'], 'linux', path);
      assert.match(String(r.headers['server']), /^Wharf\/\d+\.\d+\.\d+ \(linux\)$/, path);
    }
  });

  it('rejects versions above the maximum and below the minimum', async () => {
    const hi = await request(srv.sock, 'GET', '/v1.99/version');
    assert.equal(hi.status, 400);
    assert.deepEqual(hi.json(), { message: `client version 1.99 is too new. Maximum supported API version is ${API_VERSION}` });
    const lo = await request(srv.sock, 'GET', '/v1.12/version');
    assert.equal(lo.status, 400);
    assert.deepEqual(lo.json(), {
      message: `client version 1.12 is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    });
    assert.equal((await request(srv.sock, 'GET', `/v${MIN_API_VERSION}/version`)).status, 200);
    assert.equal((await request(srv.sock, 'GET', `/v${API_VERSION}/version`)).status, 200);
    assert.equal(API_VERSION, '1.51');
    assert.equal(MIN_API_VERSION, '1.24');
  });

  it('compares versions numerically', () => {
    assert.equal(compareVersions('1.9', '1.10'), -1);
    assert.equal(compareVersions('1.50', '1.5'), 1);
    assert.equal(compareVersions('1.40', '1.40.0'), 0);
  });

  it('answers unknown paths and wrong methods with 404 page not found', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v1.45/nope/deeper'],
      // (DELETE /containers/a/b is the container route, as Docker's {name:.*}: link names have a slash.)
      ['PUT', '/containers/abc/json'],
      ['GET', '/containers/abc/start'],
    ] as const) {
      const r = await request(srv.sock, method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json(), { message: 'page not found' });
      // Docker's not-found handler is outside its version middleware: no version headers.
      assert.equal(r.headers['api-version'], undefined);
      assert.equal(r.headers['server'], undefined);
    }
  });

  it("takes moby's names with slashes: {name:.*} may be empty, {id:.+} may not", () => {
    const router = new Router();
    const seen = (tag: string) => (() => tag) as unknown as Parameters<Router['get']>[1];
    router.get('/containers/{name:.*}/json', seen('inspect'));
    router.get('/networks/{id:.+}', seen('network'));
    const inspect = router.match('GET', '/containers/parent/alias/json');
    assert.deepEqual(inspect?.params, { name: 'parent/alias' });
    assert.deepEqual(router.match('GET', '/containers//json')?.params, { name: '' });
    assert.deepEqual(router.match('GET', '/networks/a/b')?.params, { id: 'a/b' });
    assert.equal(router.match('GET', '/networks/'), undefined);
  });

  it('maps error kinds to statuses with a JSON message body', async () => {
    const cases: Array<[string, number, string]> = [
      ['missing', 404, 'No such container: missing'],
      ['bad', 400, 'bad ref'],
      ['conflict', 409, 'Conflict. The container name "/x" is already in use by container "y"'],
      ['forbidden', 403, 'nope'],
      ['busy', 503, 'later'],
      ['sys', 500, 'disk on fire'],
      ['plain', 500, 'plain error'],
    ];
    for (const [ref, status, message] of cases) {
      const r = await request(srv.sock, 'GET', `/v1.45/containers/${ref}/json`);
      assert.equal(r.status, status, ref);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json(), { message });
    }
  });

  it('answers NotModified with an empty 304', async () => {
    const r = await request(srv.sock, 'POST', '/v1.45/containers/running/start');
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    const ok = await request(srv.sock, 'POST', '/v1.45/containers/stopped/start');
    assert.equal(ok.status, 204);
  });

  it('serves many requests over one keep-alive connection', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<unknown>();
    const { request: req } = await import('node:http');
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const r = req({ socketPath: srv.sock, path: '/_ping', agent }, (res) => {
          ports.add(res.socket);
          res.resume();
          res.on('end', () => resolve());
        });
        r.on('error', reject);
        r.end();
      });
    }
    agent.destroy();
    assert.equal(ports.size, 1);
  });
});

describe('api router: the request signal', () => {
  /** A server whose one route reports, through `seen`, whether its signal was aborted. */
  async function serve(handler: (ctx: RequestContext, gone: Promise<void>) => Promise<void>) {
    const router = new Router();
    let clientGone!: () => void;
    const gone = new Promise<void>((r) => (clientGone = r));
    router.get('/slow', (ctx) => handler(ctx, gone));
    const server = createServer((req, res) => {
      res.once('close', () => clientGone());
      void router.dispatch({ req, res, backend: {} as never, upgrade: null, trackHijacked: () => {}, log: () => {} });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    // The client asks, then goes away before any answer.
    const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' });
    req.on('error', () => {});
    req.end();
    return { server, hangUp: () => req.destroy() };
  }

  it('is aborted when the client goes away, whether the handler took it before or after', async () => {
    for (const when of ['before', 'after'] as const) {
      let aborted!: (reason: unknown) => void;
      const result = new Promise<unknown>((r) => (aborted = r));
      const client = { hangUp: () => {} };
      const { server, hangUp } = await serve(async (ctx, gone) => {
        if (when === 'before') {
          ctx.signal.addEventListener('abort', () => aborted(ctx.signal.reason));
          client.hangUp();
        } else {
          client.hangUp();
          await gone;
          aborted(ctx.signal.aborted ? ctx.signal.reason : 'not aborted');
        }
        await gone;
      });
      client.hangUp = hangUp;
      const reason = await result;
      assert.match(String(reason), /client went away during GET \/slow/, when);
      server.close();
    }
  });

  it('is not aborted once the response is complete', async () => {
    const router = new Router();
    let signal: AbortSignal | undefined;
    router.get('/quick', (ctx) => {
      ctx.res.end('ok');
      signal = ctx.signal;
    });
    const server = createServer((req, res) => void router.dispatch({ req, res, backend: {} as never, upgrade: null, trackHijacked: () => {}, log: () => {} }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/quick', agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    server.close();
    assert.equal(signal?.aborted, false);
  });
});
