import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { ImageImportOptions, RegistryAuth } from '../../../src/api/backend.js';
import type { ProgressMessage } from '../../../src/api/types.js';
import { noSuchImage, notFound } from '../../../src/lib/errors.js';
import { request, startStubServer, type TestServer } from './helpers.js';

async function readAll(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += c;
  return s;
}

const lines = (text: string) =>
  text
    .split('\r\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as unknown);

describe('image routes', () => {
  let srv: TestServer;
  let imported = '';
  before(async () => {
    srv = await startStubServer({
      images: {
        inspect: async (ref) => {
          if (ref === 'missing') throw noSuchImage(ref);
          return { Id: ref } as never;
        },
        importImage: (src: Readable, opts: ImageImportOptions) =>
          (async function* (): AsyncGenerator<ProgressMessage> {
            imported = await readAll(src);
            if (opts.repo === 'fail-early') throw notFound('nothing to import');
            yield { status: 'sha256:abc' };
            if (opts.repo === 'fail-late') throw new Error('disk full');
          })(),
        load: () =>
          // eslint-disable-next-line require-yield -- a load that fails before its first message
          (async function* (): AsyncGenerator<ProgressMessage> {
            throw new Error('not a docker archive');
          })(),
        save: async (names, out) => {
          if (names.includes('missing')) throw noSuchImage('missing');
          out.write(`tar of ${names.join(',')}`);
          out.end();
        },
      },
    });
  });
  after(() => srv.close());
  const last = (method: string) => [...srv.calls].reverse().find((c) => c.method === method);

  it('accepts image names with slashes and registry ports', async () => {
    const r = await request(srv.sock, 'GET', '/v1.45/images/localhost:5000/foo/bar/json');
    assert.equal(r.status, 200);
    assert.equal((r.json() as { Id: string }).Id, 'localhost:5000/foo/bar');
    assert.equal((await request(srv.sock, 'GET', '/images/missing/json')).status, 404);
    await request(srv.sock, 'GET', '/images/a/b:1/history');
    assert.deepEqual(last('images.history')!.args, ['a/b:1', undefined]);
    assert.equal((await request(srv.sock, 'POST', '/images/a/b/tag?repo=c/d&tag=2')).status, 201);
    assert.deepEqual(last('images.tag')!.args, ['a/b', 'c/d', '2']);
    const del = await request(srv.sock, 'DELETE', '/images/a/b:1?force=1');
    assert.equal(del.status, 200);
    assert.deepEqual(last('images.remove')!.args, ['a/b:1', { force: true, noprune: false }]);
  });

  it('inspect (API 1.49) and history (1.48) take a JSON platform, checked as moby decodes it', async () => {
    const q = (p: string) => encodeURIComponent(p);
    await request(srv.sock, 'GET', `/v1.49/images/busybox/json?platform=${q('{"os":"linux","architecture":"arm64","variant":"v8"}')}`);
    assert.deepEqual(last('images.inspect')!.args, ['busybox', { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
    await request(srv.sock, 'GET', `/v1.48/images/busybox/json?platform=${q('{"os":"linux","architecture":"arm64"}')}`);
    assert.deepEqual(last('images.inspect')!.args, ['busybox', undefined], 'before 1.49 the parameter is not read');
    await request(srv.sock, 'GET', `/v1.48/images/busybox/history?platform=${q('{"os":"linux","architecture":"arm64"}')}`);
    assert.deepEqual(last('images.history')!.args, ['busybox', { os: 'linux', architecture: 'arm64' }]);
    const refused = async (path: string) => {
      const r = await request(srv.sock, 'GET', path);
      return [r.status, (r.json() as { message: string }).message];
    };
    assert.deepEqual(await refused(`/v1.49/images/busybox/json?platform=${q('{"os":"linux"}')}`), [400, 'both OS and Architecture must be provided']);
    assert.deepEqual(await refused(`/v1.49/images/busybox/json?platform=${q('{"variant":"v8"}')}`), [400, 'optional platform fields provided, but OS and Architecture are missing']);
    assert.deepEqual(await refused(`/v1.49/images/busybox/json?manifests=1&platform=${q('{"os":"linux","architecture":"amd64"}')}`), [
      400,
      'conflicting options: manifests and platform options cannot both be set',
    ]);
    const bad = await refused(`/v1.49/images/busybox/json?platform=nope`);
    assert.equal(bad[0], 400);
    assert.match(String(bad[1]), /^failed to parse platform: /);
  });

  it('save and load take one JSON platform from API 1.48', async () => {
    const p = encodeURIComponent('{"os":"linux","architecture":"arm64"}');
    await request(srv.sock, 'GET', `/v1.48/images/get?names=busybox&platform=${p}`);
    assert.deepEqual(last('images.save')!.args[2], { os: 'linux', architecture: 'arm64' });
    await request(srv.sock, 'GET', `/v1.47/images/busybox/get?platform=${p}`);
    assert.equal(last('images.save')!.args[2], undefined, 'before 1.48 the parameter is not read');
    const two = await request(srv.sock, 'GET', `/v1.50/images/get?names=busybox&platform=${p}&platform=${p}`);
    assert.deepEqual([two.status, (two.json() as { message: string }).message], [400, 'multiple platform parameters are not supported in this API version; use API version 1.52 or later']);
    await request(srv.sock, 'POST', `/v1.48/images/load?platform=${p}`, { body: 'not a tar' });
    assert.deepEqual((last('images.load')!.args[1] as { platform?: unknown }).platform, { os: 'linux', architecture: 'arm64' });
  });

  it('lists with all, digests and filters', async () => {
    await request(srv.sock, 'GET', `/images/json?all=1&digests=1&filters=${encodeURIComponent('{"dangling":["true"]}')}`);
    assert.deepEqual(last('images.list')!.args[0], { all: true, digests: true, filters: { dangling: ['true'] } });
    await request(srv.sock, 'GET', '/v1.40/images/json?filter=busybox');
    assert.deepEqual(last('images.list')!.args[0], { all: false, digests: false, filters: { reference: ['busybox'] } });
  });

  it('imports a tarball body and streams JSON progress', async () => {
    const r = await request(srv.sock, 'POST', '/images/create?fromSrc=-&repo=me/img&tag=v1&changes=ENV%20A%3D1&changes=CMD%20sh&message=hi', {
      body: 'TARBALL',
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(lines(r.text), [{ status: 'sha256:abc' }]);
    assert.equal(imported, 'TARBALL');
    assert.deepEqual(last('images.importImage')!.args[1], { repo: 'me/img', tag: 'v1', changes: ['ENV A=1', 'CMD sh'], message: 'hi' });
  });

  it('reports early errors with a status and later ones in the stream', async () => {
    const early = await request(srv.sock, 'POST', '/images/create?fromSrc=-&repo=fail-early', { body: 'x' });
    assert.equal(early.status, 404);
    assert.deepEqual(early.json(), { message: 'nothing to import' });
    const late = await request(srv.sock, 'POST', '/images/create?fromSrc=-&repo=fail-late', { body: 'x' });
    assert.equal(late.status, 200);
    assert.deepEqual(lines(late.text), [{ status: 'sha256:abc' }, { errorDetail: { message: 'disk full' }, error: 'disk full' }]);
  });

  it('load reports errors in the stream with status 200', async () => {
    const r = await request(srv.sock, 'POST', '/images/load?quiet=0', { body: 'x' });
    assert.equal(r.status, 200);
    assert.deepEqual(lines(r.text), [{ errorDetail: { message: 'not a docker archive' }, error: 'not a docker archive' }]);
    assert.equal((last('images.load')!.args[1] as { quiet: boolean }).quiet, false);
  });

  it('pull passes ref, tag, platform and decoded auth', async () => {
    let seen: unknown[] = [];
    const srv2 = await startStubServer({
      images: {
        pull: (ref: string, tag: string | undefined, opts: unknown, auth: RegistryAuth | undefined) =>
          (async function* (): AsyncGenerator<ProgressMessage> {
            seen = [ref, tag, opts, auth];
            yield { status: 'Pulling from library/busybox', id: 'latest' };
          })(),
      },
    });
    try {
      const auth = Buffer.from(JSON.stringify({ username: 'u', password: 'p', serveraddress: 'localhost:5000' })).toString('base64url');
      const r = await request(srv2.sock, 'POST', '/images/create?fromImage=localhost:5000/busybox:&tag=1.36&platform=linux/amd64', {
        headers: { 'X-Registry-Auth': auth },
      });
      assert.equal(r.status, 200);
      assert.deepEqual(lines(r.text), [{ status: 'Pulling from library/busybox', id: 'latest' }]);
      const { signal, ...opts } = seen[2] as { signal?: unknown };
      assert.ok(signal instanceof AbortSignal, 'the request signal reaches the pull');
      assert.deepEqual([seen[0], seen[1], opts, seen[3]], ['localhost:5000/busybox', '1.36', { platform: 'linux/amd64' }, { username: 'u', password: 'p', serveraddress: 'localhost:5000' }]);
    } finally {
      await srv2.close();
    }
  });

  it('saves images as a tarball', async () => {
    const r = await request(srv.sock, 'GET', '/images/get?names=a&names=b/c');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-tar');
    assert.equal(r.text, 'tar of a,b/c');
    const one = await request(srv.sock, 'GET', '/images/reg:5000/x/get');
    assert.equal(one.text, 'tar of reg:5000/x');
    const missing = await request(srv.sock, 'GET', '/images/get?names=missing');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { message: 'No such image: missing' });
  });

  it('prunes with filters', async () => {
    const r = await request(srv.sock, 'POST', `/images/prune?filters=${encodeURIComponent('{"dangling":{"false":true}}')}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { ImagesDeleted: [], SpaceReclaimed: 0 });
    assert.deepEqual(last('images.prune')!.args, [{ dangling: ['false'] }]);
  });
});
