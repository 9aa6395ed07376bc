/**
 * BuildKit's API on /grpc and /session, which `docker build` uses whenever the buildx plugin is
 * installed: builds the way buildx runs them (the gateway's Solve and Return beside Control.Solve,
 * and Control.Solve naming the frontend itself), the session's file transfer with a .dockerignore
 * and a Dockerfile shared apart, the cache, a failing RUN in BuildKit's words, the status stream's
 * vertexes, and refusals: exporters wharfd does not have, a hostile client's paths, requests that
 * are not upgraded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient, Status } from '../../src/buildkit/grpc.js';
import { tarEnd, tarEntryBlocks } from '../../src/lib/tar-writer.js';
import { messages } from '../../src/buildkit/proto.js';
import { buildkitBuild, dialUpgrade, dir, file, symlink, vertexesByName } from '../lib/buildkit-client.js';
import { gitRunner, serveGitRepos, twoBranchRepo } from '../lib/git-repos.js';
import { jsonBody, loadBusybox, ping, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let bait: string;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  bait = await mkdtemp(join(tmpdir(), 'wharf-buildkit-bait-'));
});
after(async () => {
  await d?.cleanup();
  if (bait) await rm(bait, { recursive: true, force: true });
});

async function imageId(ref: string): Promise<string> {
  const r = await d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function run(image: string, ...cmd: string[]): Promise<string> {
  const r = await d.docker(['run', '--rm', image, ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const DOCKERFILE = ['FROM busybox', 'ARG X=default', 'RUN echo "arg=$X" && echo "arg=$X" > /arg', 'COPY . /ctx/', 'LABEL from=dockerfile', ''].join('\n');

const CONTEXT = [
  file('.dockerignore', 'secret.txt\n*.log\n'),
  file('secret.txt', 'never sent\n'),
  file('build.log', 'never sent either\n'),
  dir('sub', 0o1770),
  file('sub/kept', 'kept\n'),
  symlink('sub/up', '../../../etc/passwd'),
];

test('a build as buildx runs it: the gateway frontend, the session transfer, the moby exporter', async () => {
  const r = await buildkitBuild(d.socket, {
    dirs: { context: CONTEXT, dockerfile: [file('Build.df', DOCKERFILE)] },
    attrs: { filename: 'Build.df', 'build-arg:X': 'given', 'label:extra': 'yes', 'attest:provenance': 'mode=min' },
    name: 'bk-one,bk-one:second',
  });
  assert.equal(r.error, undefined, r.error?.message);
  const id = await imageId('bk-one');
  assert.equal(await imageId('bk-one:second'), id);
  assert.equal(r.exporterResponse?.['containerimage.digest'], id);
  assert.equal(r.exporterResponse?.['containerimage.config.digest'], id);
  assert.equal(r.exporterResponse?.['image.name'], 'docker.io/library/bk-one,docker.io/library/bk-one:second');

  // What the .dockerignore names never reached the image; a link pointing out is kept as a link.
  assert.equal(await run('bk-one', 'cat', '/arg'), 'arg=given\n');
  assert.equal(await run('bk-one', 'sh', '-c', 'ls -A /ctx /ctx/sub; readlink /ctx/sub/up; stat -c %a /ctx/sub'), '/ctx:\n.dockerignore\nsub\n\n/ctx/sub:\nkept\nup\n../../../etc/passwd\n1770\n');
  const labels = await d.docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'bk-one']);
  assert.deepEqual(JSON.parse(labels.stdout), { extra: 'yes', from: 'dockerfile' });

  const v = vertexesByName(r.status);
  assert.deepEqual([...v.keys()], [
    '[internal] load build definition from Build.df',
    '[internal] load .dockerignore',
    '[internal] load build context',
    '[internal] load metadata for docker.io/library/busybox:latest',
    '[1/3] FROM docker.io/library/busybox:latest',
    '[2/3] RUN echo "arg=given" && echo "arg=given" > /arg',
    '[3/3] COPY . /ctx/',
    'exporting to image',
  ]);
  for (const [name, vx] of v) assert.ok(vx.completed && vx.error === '', `${name}: ${JSON.stringify(vx)}`);
  assert.equal(v.get('[2/3] RUN echo "arg=given" && echo "arg=given" > /arg')?.logs, 'arg=given\n');
  assert.deepEqual(v.get('exporting to image')?.statuses, ['exporting layers', `writing image ${id}`, 'naming to docker.io/library/bk-one', 'naming to docker.io/library/bk-one:second']);
  assert.match(v.get('[internal] load build definition from Build.df')!.statuses[0]!, /^transferring dockerfile: \d+B$/);

  // The same build again comes from the cache, step by step.
  const again = await buildkitBuild(d.socket, { dirs: { context: CONTEXT, dockerfile: [file('Build.df', DOCKERFILE)] }, attrs: { filename: 'Build.df', 'build-arg:X': 'given', 'label:extra': 'yes' }, name: 'bk-again' });
  assert.equal(again.error, undefined, again.error?.message);
  assert.equal(await imageId('bk-again'), id);
  assert.equal(vertexesByName(again.status).get('[2/3] RUN echo "arg=given" && echo "arg=given" > /arg')?.cached, true);
});

test('patterns and names beyond ASCII reach the client as BuildKit encodes them; one no header can carry fails the build, not the exclusion', async () => {
  // Node writes a header's string as latin1: `données` arrived as bytes no UTF-8 name has, and a
  // control character dropped its value, so what the .dockerignore names was sent.
  const context = [file('.dockerignore', 'données\n日本.txt\n'), file('données/secret', 'never sent\n'), file('日本.txt', 'never sent\n'), file('kept', 'kept\n')];
  const r = await buildkitBuild(d.socket, {
    dirs: { context, dockerfile: [file('Dökerfile', 'FROM busybox\nCOPY . /ctx/\n')] },
    attrs: { filename: 'Dökerfile' },
    name: 'bk-utf8',
  });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(await run('bk-utf8', 'ls', '-A', '/ctx'), '.dockerignore\nkept\n');

  const control = await buildkitBuild(d.socket, {
    dirs: { context: [file('.dockerignore', 'secret\x01\n'), file('secret\x01', 'never sent\n')], dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY . /ctx/\n')] },
    name: 'bk-control',
  });
  assert.match(control.error?.message ?? '', /header key "exclude-patterns" contains value with non-printable ASCII characters/);
  assert.equal((await d.docker(['image', 'inspect', 'bk-control'])).code, 1);
});

test('Control.Solve naming the frontend itself builds too (buildctl, older clients)', async () => {
  const r = await buildkitBuild(d.socket, {
    direct: true,
    dirs: { context: [file('f', 'direct\n')], dockerfile: [file('Dockerfile', 'FROM busybox AS a\nRUN echo a > /a\nFROM busybox AS b\nCOPY f /f\nCOPY --from=a /a /a\n')] },
    attrs: { target: 'b' },
    name: 'bk-direct',
  });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(await run('bk-direct', 'cat', '/f', '/a'), 'direct\na\n');
});

test('a failing RUN: BuildKit\'s message, the step marked failed, no image named, no container left', async () => {
  const before = (await d.docker(['ps', '-aq'])).stdout;
  const r = await buildkitBuild(d.socket, {
    dirs: { context: [], dockerfile: [file('Dockerfile', 'FROM busybox\nRUN echo going && exit 7\nRUN echo never\n')] },
    name: 'bk-fails',
  });
  assert.equal(r.error?.code, Status.UNKNOWN);
  assert.equal(r.error?.message, 'process "/bin/sh -c echo going && exit 7" did not complete successfully: exit code: 7');
  const step = vertexesByName(r.status).get('[2/3] RUN echo going && exit 7');
  assert.equal(step?.error, r.error?.message);
  assert.equal(step?.logs, 'going\n');
  assert.equal(vertexesByName(r.status).has('[3/3] RUN echo never'), false);
  assert.notEqual((await d.docker(['image', 'inspect', 'bk-fails'])).code, 0);
  assert.equal((await d.docker(['ps', '-aq'])).stdout, before);
});

test('what wharfd cannot build is refused by name, and the gateway\'s calls end with it', { timeout: 120_000 }, async () => {
  const df = { dockerfile: [file('Dockerfile', 'FROM busybox\n')], context: [] };
  const oci = await buildkitBuild(d.socket, { dirs: df, exporter: 'oci' });
  assert.equal(oci.error?.code, Status.UNIMPLEMENTED);
  assert.match(oci.error!.message, /exporter "oci" is not supported by wharfd/);

  const missing = await buildkitBuild(d.socket, { dirs: { dockerfile: [], context: [] } });
  assert.equal(missing.error?.message, 'failed to read dockerfile: open Dockerfile: no such file or directory');
});

test('named contexts replace a stage, a base and a --from: an image of the engine or a directory the client shares', { timeout: 120_000 }, async () => {
  const marked = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nRUN echo marked > /marker\n')], context: [] }, name: 'bk-marked' });
  assert.equal(marked.error, undefined, marked.error?.message);
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch;
  const dockerfile = [
    // Replaced whole: neither the missing base is pulled nor the failing RUN run.
    'FROM no-such-image-here AS base',
    'RUN exit 3',
    // A base named by its full reference, replaced by its familiar name with the platform.
    'FROM docker.io/library/alpine:latest AS second',
    'COPY --from=base /marker /from-stage',
    'COPY --from=files / /files/',
    'RUN --mount=from=files,target=/m cat /m/a > /mounted',
    // A stage on a local context: its files are the stage's filesystem.
    'FROM site AS web',
    'FROM second',
    'COPY --from=web /index.html /',
    'RUN cat /from-stage /files/a /mounted /index.html > /result',
    '',
  ].join('\n');
  const r = await buildkitBuild(d.socket, {
    dirs: {
      dockerfile: [file('Dockerfile', dockerfile)],
      context: [],
      files: [file('.dockerignore', 'ignored\n'), file('a', 'from files\n'), file('ignored', 'never sent\n'), { ...file('owned', 'x'), uid: 1234, gid: 5678 }],
      site: [file('index.html', '<p>site</p>\n')],
    },
    attrs: {
      'context:base': 'docker-image://bk-marked',
      [`context:alpine::linux/${arch}`]: 'docker-image://busybox',
      'context:alpine': 'docker-image://no-such-image-either',
      'context:files': 'local:files',
      'context:site': 'local:site',
      // Never named by the build: not looked at.
      'context:unused': 'git://example.invalid/repo.git',
    },
    name: 'bk-named',
  });
  assert.equal(r.error, undefined, r.error?.message);
  const vertexes = vertexesByName(r.status);
  assert.ok(vertexes.has('[context base] bk-marked'), [...vertexes.keys()].join('\n'));
  // Metadata is loaded for the images the contexts name, none for the names they replace or a local directory.
  assert.deepEqual([...vertexes.keys()].filter((n) => n.includes('load metadata')), ['[context base] load metadata for bk-marked', `[context alpine::linux/${arch}] load metadata for busybox`]);
  assert.ok(vertexes.has(`[context alpine::linux/${arch}] busybox`));
  assert.ok(vertexes.has('[context files] load from client'));
  assert.equal(vertexes.has('[base 1/2] RUN exit 3'), false);
  assert.equal(await run('bk-named', 'cat', '/result'), 'marked\nfrom files\nfrom files\n<p>site</p>\n');
  // The local context's files as sent, less its .dockerignore's; owners kept as for any COPY --from.
  const second = await buildkitBuild(d.socket, {
    dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY --from=files / /files/\n')], context: [], files: [file('.dockerignore', 'ignored\n'), file('a', 'a\n'), file('ignored', 'no\n'), { ...file('owned', 'x'), uid: 1234, gid: 5678 }] },
    attrs: { 'context:files': 'local:files' },
    name: 'bk-named-files',
  });
  assert.equal(second.error, undefined, second.error?.message);
  assert.equal(await run('bk-named-files', 'sh', '-c', 'ls -A /files; stat -c %u:%g /files/owned'), '.dockerignore\na\nowned\n1234:5678\n');

  const unsupported = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY --from=layout /x /x\n')], context: [] }, attrs: { 'context:layout': 'oci-layout://store@sha256:' + 'a'.repeat(64) } });
  assert.match(unsupported.error?.message ?? '', /named context layout \(oci-layout:\/\/store@sha256:a+\): oci-layout sources are not supported by wharfd's builder/);
  const unshared = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM gone\n')], context: [] }, attrs: { 'context:gone': 'local:gone' } });
  assert.match(unshared.error?.message ?? '', /no access allowed to dir "gone"/);
});

test('a client sending paths that climb out of its context fails its build and writes nothing outside', async () => {
  const up = '../'.repeat(12);
  for (const path of [`${up}${bait.slice(1)}/pwned`, '/abs/pwned', 'a/../../pwned', '']) {
    const r = await buildkitBuild(d.socket, {
      dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY . /\n')], context: [file(path || 'x', 'owned\n'), ...(path === '' ? [{ path: 'x/', mode: 0o100644, data: 'y' }] : [])] },
      name: 'bk-hostile',
    });
    assert.ok(r.error, `${JSON.stringify(path)} was accepted`);
    assert.match(r.error.message, /invalid path in the shared directory/);
  }
  assert.equal(existsSync(join(bait, 'pwned')), false);
  assert.notEqual((await d.docker(['image', 'inspect', 'bk-hostile'])).code, 0);
  // A size announced and not sent is never written as zeros (a few bytes asking for 256 MiB of zeros).
  const lie = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY . /\n')], context: [file('big', 'tiny')] }, announce: { big: 256 * 2 ** 20 }, name: 'bk-hostile' });
  assert.equal(lie.error?.message, 'big changed while it was sent: 4 of 268435456 bytes came');
  assert.equal(await ping(d.socket), true);
});

test('/grpc and /session want an h2c upgrade, /session a new id; an unknown method is UNIMPLEMENTED', async () => {
  const plain = await socketRequest(d.socket, 'POST', '/v1.47/grpc');
  assert.equal(plain.status, 500);
  assert.equal(jsonBody<{ message: string }>(plain)?.message, 'no upgrade proto in request');
  const ws = await socketRequest(d.socket, 'POST', '/v1.47/session', { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'X-Docker-Expose-Session-Uuid': 'x' } });
  // moby's session route makes every refusal a 400.
  assert.equal(ws.status, 400);
  assert.equal(jsonBody<{ message: string }>(ws)?.message, 'protocol websocket not supported');
  const first = await dialUpgrade(d.socket, '/v1.47/session', { 'X-Docker-Expose-Session-Uuid': 'twice' });
  const again = await socketRequest(d.socket, 'POST', '/v1.47/session', { headers: { Connection: 'Upgrade', Upgrade: 'h2c', 'X-Docker-Expose-Session-Uuid': 'twice' } });
  assert.deepEqual([again.status, jsonBody<{ message: string }>(again)?.message], [400, 'session twice already exists']);
  first.socket.destroy();
  // Go's server upgrades on the Upgrade header alone (moby's integration suite sends no Connection header).
  const alone = await dialUpgrade(d.socket, '/v1.47/session', { 'X-Docker-Expose-Session-Uuid': 'alone' }, { connectionHeader: false });
  const aloneAgain = await socketRequest(d.socket, 'POST', '/v1.47/session', { headers: { Upgrade: 'h2c', 'X-Docker-Expose-Session-Uuid': 'alone' } });
  assert.deepEqual([aloneAgain.status, jsonBody<{ message: string }>(aloneAgain)?.message], [400, 'session alone already exists']);
  alone.socket.destroy();
  // An upgrade still reading its body holds its id: a second request of the id meanwhile is refused, not let in.
  const slow = connect(d.socket);
  await new Promise<void>((resolve) => slow.once('connect', resolve));
  slow.write('POST /v1.47/session HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\nX-Docker-Expose-Session-Uuid: slow\r\nContent-Length: 4\r\n\r\n');
  // The probe cannot become the session itself (moby checks the id before the protocol): until the slow request is
  // routed it is refused for its protocol, after that for the id.
  await waitFor(async () => {
    const meanwhile = await socketRequest(d.socket, 'POST', '/v1.47/session', { headers: { Upgrade: 'websocket', 'X-Docker-Expose-Session-Uuid': 'slow' } });
    return jsonBody<{ message: string }>(meanwhile)?.message === 'session slow already exists';
  }, { what: 'the slow upgrade to hold its id' });
  const answer = new Promise<string>((resolve) => slow.once('data', (b: Buffer) => resolve(b.toString())));
  slow.write('body');
  assert.match(await answer, /^HTTP\/1\.1 101 /);
  slow.destroy();
  // A client gone (here without a word of HTTP/2) takes its session, and its id, with it.
  await waitFor(async () => jsonBody<{ message: string }>(await socketRequest(d.socket, 'POST', '/v1.47/session', { headers: { 'X-Docker-Expose-Session-Uuid': 'alone' } }))?.message === 'no upgrade proto in request', {
    what: 'the session of a closed connection to end',
  });
  // A control connection whose client stopped sending is closed by the daemon, not held.
  const quiet = await dialUpgrade(d.socket, '/v1.47/grpc');
  const closed = new Promise((resolve) => quiet.socket.once('close', resolve));
  quiet.socket.resume();
  quiet.socket.end();
  await closed;

  const g = await dialUpgrade(d.socket, '/v1.47/grpc', {}, { connectionHeader: false });
  const client = new GrpcClient(g.socket, g.head);
  const call = client.call('/moby.buildkit.v1.Control/NoSuchMethod');
  await call.send(Buffer.alloc(0));
  call.closeSend();
  await assert.rejects(async () => {
    for await (const _ of call.messages()) void _;
  }, (err: { code?: number; message?: string }) => err.code === Status.UNIMPLEMENTED && /unknown method/.test(err.message ?? ''));
  client.close();
  assert.equal(await ping(d.socket), true);
});

test('garbage on the BuildKit connections ends those calls or connections, never the daemon', async () => {
  const { randomBytes } = await import('node:crypto');
  const http2 = await import('node:http2');
  // Not HTTP/2 at all after the upgrade.
  for (const path of ['/v1.47/grpc', '/v1.47/session']) {
    const g = await dialUpgrade(d.socket, path, path.endsWith('session') ? { 'X-Docker-Expose-Session-Uuid': 'garbage' } : {});
    g.socket.resume();
    g.socket.on('error', () => {});
    g.socket.write(randomBytes(8192));
    await new Promise<void>((resolve) => {
      g.socket.once('close', () => resolve());
      setTimeout(() => g.socket.destroy(), 5000).unref();
    });
  }
  // Well-framed calls whose messages are random bytes.
  const g = await dialUpgrade(d.socket, '/v1.47/grpc');
  const client = new GrpcClient(g.socket, g.head);
  const unaryPaths = ['Control/Solve', 'Control/ListWorkers', 'Control/Info', 'Control/DiskUsage', 'frontend.LLBBridge/Ping', 'frontend.LLBBridge/Solve', 'frontend.LLBBridge/Return'];
  for (const p of unaryPaths) {
    for (let i = 0; i < 5; i++) {
      const call = client.call(`/moby.buildkit.v1.${p}`, { 'buildkit-controlapi-buildid': 'garbage' });
      await call.send(randomBytes(1 + (i * 97) % 300));
      call.closeSend();
      const outcome = await Promise.race([
        (async () => {
          try {
            for await (const _ of call.messages()) void _;
            return 'ok';
          } catch (err) {
            return `status ${(err as { code?: number }).code}`;
          }
        })(),
        new Promise<string>((resolve) => setTimeout(() => resolve('pending'), 3000).unref()),
      ]);
      // A random Solve may decode as a request that waits for its other half: it is cancelled then.
      if (outcome === 'pending') call.cancel();
      else assert.match(outcome, /^(ok|status \d+)$/);
    }
  }
  client.close();
  // A frame announcing more than the limit: RESOURCE_EXHAUSTED for that call.
  const raw = await dialUpgrade(d.socket, '/v1.47/grpc');
  raw.socket.unshift(raw.head);
  const session = http2.connect('http://docker', { createConnection: () => raw.socket });
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/moby.buildkit.v1.Control/ListWorkers', 'content-type': 'application/grpc', te: 'trailers' });
  const status = new Promise<string>((resolve) => {
    const read = (h: Record<string, unknown>) => h['grpc-status'] !== undefined && resolve(String(h['grpc-status']));
    req.on('response', read);
    req.on('trailers', read);
    req.on('close', () => resolve('closed'));
  });
  req.on('error', () => {});
  req.resume();
  const head = Buffer.alloc(5);
  head.writeUInt32BE(64 << 20, 1);
  req.write(Buffer.concat([head, randomBytes(1024)]));
  assert.equal(await status, String(Status.RESOURCE_EXHAUSTED));
  session.destroy();
  assert.equal(await ping(d.socket), true);
  assert.doesNotMatch(d.log(), /BUG:|buildkit: \//, 'an error escaped its call');
});

test('a WORKDIR that leaves the stage at / is no step, and the steps after it are numbered on, as BuildKit numbers them', async () => {
  const dockerfile = ['FROM busybox', 'WORKDIR /', 'RUN true', 'WORKDIR /x', 'WORKDIR ..', 'RUN pwd', ''].join('\n');
  const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [] }, attrs: { 'no-cache': '' } });
  assert.equal(r.error, undefined, r.error?.message);
  assert.deepEqual([...vertexesByName(r.status).keys()].filter((n) => /^\[\d/.test(n)), ['[1/6] FROM docker.io/library/busybox:latest', '[2/6] RUN true', '[3/6] WORKDIR /x', '[4/6] RUN pwd']);
  assert.equal(vertexesByName(r.status).get('[4/6] RUN pwd')?.logs, '/\n');
});

test("the worker has the labels moby's builder gives it on an engine without the containerd image store", async () => {
  const g = await dialUpgrade(d.socket, '/v1.47/grpc');
  const client = new GrpcClient(g.socket, g.head);
  try {
    const { record } = messages.ListWorkersResponse.decode(await client.unary('/moby.buildkit.v1.Control/ListWorkers', messages.ListWorkersRequest.encode({ filter: [] })));
    const gateway = (await d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])).stdout.trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    // No snapshotter label: buildx then refuses cache export, the oci and docker exporters and several platforms itself, as with Docker.
    assert.deepEqual(record.map((w) => w.Labels), [{ 'org.mobyproject.buildkit.worker.moby.host-gateway-ip': gateway }]);
  } finally {
    client.close();
  }
});

test('named contexts from a git repository (its HEAD, a ref and a subdirectory, no .git) and an http(s) URL (one file, `context`)', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'wharf-bk-git-'));
  const g = gitRunner('main');
  const src = join(work, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'top.txt'), 'from main\n');
  await writeFile(join(src, 'sub', 's.txt'), 'sub of main\n');
  await twoBranchRepo(g, src, 'main', 'feature', () => writeFile(join(src, 'sub', 's.txt'), 'sub of feature\n'));
  await g(work, 'clone', '-q', '--bare', src, join(work, 'repos', 'app.git'));
  const git = await serveGitRepos(join(work, 'repos'), 'app.git');
  const files = createServer((req, res) => {
    if (req.url === '/notes.txt') res.writeHead(200, { 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }).end('downloaded\n');
    else if (req.url === '/export/' || req.url === '/') res.writeHead(200, { 'content-disposition': 'attachment; filename="q4.csv"' }).end('a,b\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
  const web = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  try {
    const base = `${git.base}/app.git`;
    const dockerfile = [
      'FROM busybox',
      'COPY --from=repo / /repo/',
      'COPY --from=feature / /feature/',
      'COPY --from=notes /context /notes',
      'RUN ls -A /repo /feature && cat /repo/top.txt /feature/s.txt /notes && stat -c "%a %Y" /notes',
      '',
    ].join('\n');
    const r = await buildkitBuild(d.socket, {
      dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [] },
      attrs: { 'context:repo': base, 'context:feature': `${base}#feature:sub`, 'context:notes': `${web}/notes.txt` },
      name: 'bk-remote-contexts',
    });
    assert.equal(r.error, undefined, r.error?.message);
    const logs = [...vertexesByName(r.status).entries()].find(([n]) => n.includes('RUN ls'))?.[1].logs;
    assert.equal(logs, `/feature:\ns.txt\n\n/repo:\nsub\ntop.txt\nfrom main\nsub of feature\ndownloaded\n644 ${Date.UTC(2026, 11, 1, 10) / 1000}\n`);
    const missing = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY --from=gone / /x/\n')], context: [] }, attrs: { 'context:gone': `${web}/notes.txt/gone` } });
    assert.match(missing.error?.message ?? '', /failed to GET http:\/\/127\.0\.0\.1:\d+\/notes\.txt\/gone with status 404/);

    // ADD --checksum pins what an http(s) source must hash to.
    const sum = `sha256:${createHash('sha256').update('downloaded\n').digest('hex')}`;
    const pinned = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nADD --checksum=${sum} ${web}/notes.txt /pinned\nRUN cat /pinned\n`)], context: [] }, name: 'bk-checksum' });
    assert.equal(pinned.error, undefined, pinned.error?.message);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const mismatch = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nADD --checksum=${wrong} ${web}/notes.txt /pinned\n`)], context: [] } });
    assert.equal(mismatch.error?.message, `digest mismatch for ${web}/notes.txt: ${sum} (expected: ${wrong})`);
    const local = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nADD --checksum=${sum} f /f\n`)], context: [file('f', 'x')] } });
    assert.equal(local.error?.message, 'checksum requires HTTP(S) or Git sources');

    // BuildKit's Dockerfile frontend names a download after its URL path alone (Go's path.Base,
    // trailing slashes dropped; __unnamed__ for the root), whatever the Content-Disposition says;
    // the classic builder would take q4.csv for both.
    const unnamed = await buildkitBuild(d.socket, {
      dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nADD ${web}/export/ /k/\nADD ${web}/ /k/\nRUN ls /k && cat /k/__unnamed__\n`)], context: [] },
      name: 'bk-unnamed',
    });
    assert.equal(unnamed.error, undefined, unnamed.error?.message);
    assert.equal([...vertexesByName(unnamed.status).entries()].find(([n]) => n.includes('RUN ls'))?.[1].logs, '__unnamed__\nexport\na,b\n');
  } finally {
    git.stop();
    files.close();
    await rm(work, { recursive: true, force: true });
  }
});

test('ADD of a git repository: its ref and subdirectory, --keep-git-dir, a commit as --checksum, over git:// and dumb http', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'wharf-bk-addgit-'));
  const g = gitRunner('main');
  const src = join(work, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'top.txt'), 'from main\n');
  await writeFile(join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(src, 'sub', 's.txt'), 'sub of main\n');
  await twoBranchRepo(g, src, 'main', 'feature', () => writeFile(join(src, 'sub', 's.txt'), 'sub of feature\n'));
  await g(src, 'tag', 'v1');
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: src }).toString().trim();
  const bare = join(work, 'repos', 'app.git');
  await g(work, 'clone', '-q', '--bare', src, bare);
  await g(bare, 'update-server-info');
  const git = await serveGitRepos(join(work, 'repos'), 'app.git');
  // A plain file server over the bare repository: git's "dumb" http transport.
  const served: string[] = [];
  const files = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    served.push(path);
    if (path.includes('..')) return void res.writeHead(400).end();
    readFile(join(work, 'repos', path)).then((b) => res.writeHead(200).end(b), () => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
  const web = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  const base = `${git.base}/app.git`;
  const build = (dockerfile: string, name?: string) => buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [] }, ...(name ? { name } : {}) });
  try {
    const dockerfile = [
      'FROM busybox',
      `ADD ${base} /repo/`,
      `ADD ${base}#feature:sub /feature`,
      `ADD --keep-git-dir=true ${base}?tag=v1 /kept`,
      `ADD --checksum=${commit.slice(0, 12)} ${base}#main /pinned`,
      `ADD ${web}/app.git /overhttp`,
      'RUN ls -A /repo /feature && cat /repo/top.txt /feature/s.txt /overhttp/top.txt /pinned/top.txt && stat -c %a /repo/run.sh /repo && git_head=$(cat /kept/.git/HEAD) && echo kept ${#git_head}',
      '',
    ].join('\n');
    const r = await build(dockerfile, 'bk-addgit');
    assert.equal(r.error, undefined, r.error?.message);
    const logs = [...vertexesByName(r.status).entries()].find(([n]) => n.includes('RUN ls'))?.[1].logs;
    assert.equal(logs, '/feature:\ns.txt\n\n/repo:\nrun.sh\nsub\ntop.txt\nfrom main\nsub of feature\nfrom main\nfrom main\n755\n755\nkept 40\n');

    // The same repository again: its ADD is cached; a new commit on the branch is not.
    const once = (ref: string) => build(`FROM busybox\nADD ${ref} /r/\nRUN cat /r/top.txt\n`);
    assert.equal((await once(base)).error, undefined);
    const cached = await once(base);
    assert.equal([...vertexesByName(cached.status).entries()].find(([n]) => n.includes('ADD'))?.[1].cached, true);
    // BuildKit asks the remote what its ref names and fetches nothing for a cached step (here, no object of the repository is read).
    // (A step is keyed by the commit, not the remote, as in BuildKit: another destination makes it a step of its own.)
    const overHttp = () => build(`FROM busybox\nADD ${web}/app.git /h/\n`);
    served.length = 0;
    assert.equal((await overHttp()).error, undefined);
    assert.ok(served.some((p) => p.includes('/objects/')), served.join(' '));
    served.length = 0;
    const fromCache = await overHttp();
    assert.equal([...vertexesByName(fromCache.status).entries()].find(([n]) => n.includes('ADD'))?.[1].cached, true);
    assert.ok(served.length > 0 && !served.some((p) => p.includes('/objects/')), served.join(' '));
    await writeFile(join(src, 'top.txt'), 'second commit\n');
    await g(src, 'commit', '-qam', 'three');
    await g(src, 'push', '-q', bare, 'main');
    const moved = await once(base);
    assert.equal(moved.error, undefined, moved.error?.message);
    const run = [...vertexesByName(moved.status).entries()].find(([n]) => n.includes('RUN cat'))?.[1];
    assert.equal(run?.logs, 'second commit\n');

    // BuildKit's refusals.
    const wrong = await build(`FROM busybox\nADD --checksum=${'0'.repeat(12)} ${base}?tag=v1 /x\n`);
    assert.equal(wrong.error?.message, `expected checksum to match ${'0'.repeat(12)}, got ${commit}`);
    assert.equal((await build(`FROM busybox\nADD --checksum=nothex ${base} /x\n`)).error?.message, 'invalid checksum nothex for Git URL, expected hex commit hash');
    assert.equal((await build(`FROM busybox\nADD ${base}?nope=1 /x\n`)).error?.message, 'unexpected query "nope"');
    assert.equal((await build(`FROM busybox\nADD --keep-git-dir=false ${base}?keep-git-dir=true /x\n`)).error?.message, 'inconsistent keep-git-dir configuration');
    assert.match((await build(`FROM busybox\nADD ${git.base}/absent.git /x\n`)).error?.message ?? '', new RegExp(`^error fetching default branch for repository ${git.base}/absent.git: `));
    assert.match((await build(`FROM busybox\nADD ${git.base}/absent.git#main /x\n`)).error?.message ?? '', new RegExp(`^failed to fetch remote ${git.base}/absent.git: `));
    assert.equal((await build(`FROM busybox\nADD ${base}#nosuch /x\n`)).error?.message, 'repository does not contain ref nosuch, output: ""');
    // A pinned commit is not asked for, and a cached step still checks it against --checksum.
    assert.equal((await build(`FROM busybox\nADD ${base}#${commit} /p/\n`)).error, undefined);
    assert.equal((await build(`FROM busybox\nADD --checksum=${'1'.repeat(8)} ${base}#${commit} /p/\n`)).error?.message, `expected checksum to match ${'1'.repeat(8)}, got ${commit}`);
    assert.equal(await ping(d.socket), true);
  } finally {
    git.stop();
    files.close();
    await rm(work, { recursive: true, force: true });
  }
});

test('SOURCE_DATE_EPOCH dates the image and the history the build adds, not the base\'s; the cache never hands those dates on', async () => {
  const dockerfile = (global: string) => `${global}FROM busybox\nRUN echo dated > /f\nENV X=1\n`;
  const build = (text: string, attrs: Record<string, string>, name: string) => buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', text)], context: [] }, attrs, name });
  const history = async (ref: string) => jsonBody<Array<{ Created: number; CreatedBy: string }>>(await socketRequest(d.socket, 'GET', `/v1.47/images/${ref}/history`))!.reverse();
  const created = async (ref: string) => (await d.docker(['image', 'inspect', '-f', '{{.Created}}', ref])).stdout.trim();
  const base = await history('busybox');
  const dangling = async () => (await d.docker(['images', '-q', '--filter', 'dangling=true'])).stdout.trim().split('\n').filter(Boolean).length;
  const before = await dangling();

  let r = await build(dockerfile(''), { 'build-arg:SOURCE_DATE_EPOCH': '0' }, 'bk-epoch');
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(await created('bk-epoch'), '1970-01-01T00:00:00Z');
  let h = await history('bk-epoch');
  assert.equal(h.length, base.length + 2);
  assert.deepEqual(h.slice(0, base.length).map((e) => e.Created), base.map((e) => e.Created));
  assert.deepEqual(h.slice(base.length).map((e) => e.Created), [0, 0]);
  assert.equal(await run('bk-epoch', 'cat', '/f'), 'dated\n');

  // A global ARG gives the default; a build arg overrides it.
  r = await build(dockerfile('ARG SOURCE_DATE_EPOCH=86400\n'), {}, 'bk-epoch-default');
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(await created('bk-epoch-default'), '1970-01-02T00:00:00Z');
  r = await build(dockerfile('ARG SOURCE_DATE_EPOCH=86400\n'), { 'build-arg:SOURCE_DATE_EPOCH': '1704067200' }, 'bk-epoch-arg');
  assert.equal(await created('bk-epoch-arg'), '2024-01-01T00:00:00Z');

  // Without it the same steps come from the cache with their own dates, not the epoch's.
  r = await build(dockerfile(''), {}, 'bk-no-epoch');
  assert.equal(r.error, undefined, r.error?.message);
  assert.ok([...vertexesByName(r.status).entries()].filter(([n]) => n.includes('RUN')).every(([, v]) => v.cached));
  assert.ok(!(await created('bk-no-epoch')).startsWith('1970'), await created('bk-no-epoch'));
  h = await history('bk-no-epoch');
  assert.ok(h.slice(base.length).every((e) => e.Created > 86400), JSON.stringify(h));
  // The dated images are children of the built ones: no dangling image is left beside them.
  assert.equal(await dangling(), before);

  const bad = await build(dockerfile(''), { 'build-arg:SOURCE_DATE_EPOCH': 'yesterday' }, 'bk-epoch-bad');
  assert.equal(bad.error?.message, 'invalid SOURCE_DATE_EPOCH: yesterday');
});

test("ADD of a git repository over ssh goes through the client's `default` agent, with no ssh configuration of the host's", { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'wharf-bk-addgit-ssh-'));
  const g = gitRunner('main');
  const src = join(work, 'src');
  await mkdir(src);
  await writeFile(join(src, 'f.txt'), 'over ssh\n');
  await g(src, 'init', '-q');
  await g(src, 'add', '-A');
  await g(src, 'commit', '-qm', 'one');
  const bare = join(work, 'app.git');
  await g(work, 'clone', '-q', '--bare', src, bare);
  // A stand-in for ssh on the daemon's PATH: it asks the agent it is given for its identities, notes
  // its arguments and the answer, then runs the remote command here (git-upload-pack of the repository).
  const bin = join(work, 'bin');
  await mkdir(bin);
  const log = join(work, 'ssh.log');
  await writeFile(join(bin, 'ssh'), [
    `#!${process.execPath}`,
    "const { connect } = require('node:net'); const { appendFileSync } = require('node:fs'); const { spawnSync } = require('node:child_process');",
    'const args = process.argv.slice(2);',
    'const c = connect(process.env.SSH_AUTH_SOCK || "/nonexistent");',
    'c.on("error", (e) => { appendFileSync(' + JSON.stringify(log) + ', "no agent: " + e.code + "\\n"); process.exit(255); });',
    'c.on("connect", () => c.write(Buffer.from([0, 0, 0, 1, 11])));',
    'c.once("data", (answer) => {',
    '  appendFileSync(' + JSON.stringify(log) + ', JSON.stringify({ args: args.slice(0, -1), answer: answer.toString("hex") }) + "\\n");',
    '  c.destroy();',
    '  process.exit(spawnSync("sh", ["-c", args[args.length - 1]], { stdio: "inherit" }).status ?? 1);',
    '});',
    '',
  ].join('\n'), { mode: 0o755 });
  const d2 = await startDaemon({ env: { PATH: `${bin}:${process.env.PATH}` } });
  try {
    await loadBusybox(d2);
    const identities = Buffer.from([0, 0, 0, 5, 12, 0, 0, 0, 0]);
    const build = (source: string, agents: boolean) =>
      buildkitBuild(d2.socket, {
        // The source in the RUN line: each build runs it (the ADD of the same tree is cached).
        dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nADD ${source} /src/\nRUN cat /src/f.txt # ${source}\n`)], context: [] },
        ...(agents ? { sshAgents: { default: () => identities } } : {}),
      });
    for (const source of [`ssh://git@127.0.0.1${bare}`, `git@127.0.0.1:${bare}`]) {
      const r = await build(source, true);
      assert.equal(r.error, undefined, r.error?.message);
      assert.equal([...vertexesByName(r.status).entries()].find(([n]) => n.includes('RUN cat'))?.[1].logs, 'over ssh\n');
    }
    const calls = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { args: string[]; answer: string });
    assert.ok(calls.length >= 2);
    for (const call of calls) {
      assert.equal(call.answer, identities.toString('hex'));
      assert.deepEqual(call.args.slice(0, 2), ['-F', '/dev/null']);
    }
    // Without the client's agent, BuildKit's refusal.
    assert.match((await build(`git@127.0.0.1:${bare}`, false)).error?.message ?? '', /default/);
    // A host or user that would be an ssh option is refused by git before any ssh runs.
    const marker = join(work, 'pwned');
    for (const hostile of [`ssh://-oProxyCommand=touch\${IFS}${marker}/x.git`, `-oProxyCommand=touch\${IFS}${marker}@h:x.git`]) {
      const r = await build(hostile, true);
      assert.match(r.error?.message ?? '', /strange hostname|not found/, hostile);
      assert.equal(existsSync(marker), false, hostile);
    }
  } finally {
    await d2.cleanup();
    await rm(work, { recursive: true, force: true });
  }
});

test('RUN --mount=type=secret,env=: the secret in the step\'s environment only, a file too when a target is named', async () => {
  const dockerfile = [
    'FROM busybox',
    'ENV TOKEN=from-image',
    'RUN --mount=type=secret,id=token,env=TOKEN echo "env=$TOKEN" && ls /run/secrets 2>&1 || true',
    'RUN --mount=type=secret,id=token,env=ALSO,target=/t echo "env=$ALSO file=$(cat /t)"',
    'RUN --mount=type=secret,id=absent,env=ABSENT echo "absent=${ABSENT-unset}"',
    '',
  ].join('\n');
  const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [] }, secrets: { token: 's3cr3t-env' }, name: 'bk-secret-env' });
  assert.equal(r.error, undefined, r.error?.message);
  const logs = [...vertexesByName(r.status).entries()].filter(([n]) => n.includes('RUN')).map(([, v]) => v.logs);
  assert.deepEqual(logs, ['env=s3cr3t-env\nls: /run/secrets: No such file or directory\n', 'env=s3cr3t-env file=s3cr3t-env\n', 'absent=unset\n']);
  // The image keeps its own value; the secret is in no config or history.
  const inspect = await d.docker(['image', 'inspect', 'bk-secret-env']);
  assert.match(inspect.stdout, /"TOKEN=from-image"/);
  assert.doesNotMatch(inspect.stdout + (await d.docker(['history', '--no-trunc', 'bk-secret-env'])).stdout, /s3cr3t-env/);
  const required = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nRUN --mount=type=secret,id=absent,env=A,required true\n')], context: [] }, secrets: {} });
  assert.match(required.error?.message ?? '', /secret absent: not found/);

  // While the step runs, its container's config (inspect, and the record on disk) holds no secret.
  const held = buildkitBuild(d.socket, {
    dirs: { dockerfile: [file('Dockerfile', `FROM busybox\nRUN --mount=type=secret,id=token,env=HELD sh -c 'until [ -e /tmp/go ]; do sleep 0.05; done; echo "held=$HELD"'\n`)], context: [] },
    secrets: { token: 's3cr3t-env' },
  });
  const id = await waitFor(
    async () => {
      const ids = (await d.docker(['ps', '-q', '--no-trunc'])).stdout.trim().split('\n').filter(Boolean);
      for (const c of ids) if ((await d.docker(['inspect', '-f', '{{json .Config.Cmd}}', c])).stdout.includes('/tmp/go')) return c;
      return undefined;
    },
    { what: 'the step container' },
  );
  const config = (await d.docker(['inspect', id])).stdout + (await readFile(join(d.dataRoot, 'containers', id, 'config.v2.json'), 'utf8'));
  assert.doesNotMatch(config, /s3cr3t-env/);
  assert.equal((await d.docker(['exec', id, 'touch', '/tmp/go'])).code, 0);
  const done = await held;
  assert.equal(done.error, undefined, done.error?.message);
  assert.equal([...vertexesByName(done.status).entries()].find(([n]) => n.includes('RUN'))?.[1].logs, 'held=s3cr3t-env\n');
});

/** A static unix-socket client for busybox steps (which have no `nc -U`): its argument to the socket, one read of the answer to stdout. */
const UNIX_CAT_C = `#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  char buf[4096];
  ssize_t n;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  if (write(fd, argv[2], strlen(argv[2])) < 0) return 1;
  if ((n = read(fd, buf, sizeof buf)) <= 0) return 1;
  return write(1, buf, n) == n ? 0 : 1;
}
`;

test('RUN --mount=type=ssh: a socket in the step carried to the client\'s agent, named by SSH_AUTH_SOCK, and never left in the image', async () => {
  const src = join(bait, 'unixcat.c');
  await writeFile(src, UNIX_CAT_C);
  execFileSync('gcc', ['-static', '-O2', '-o', join(bait, 'unixcat'), src]);
  const unixcat = await readFile(join(bait, 'unixcat'));
  const dockerfile = [
    'FROM busybox',
    'COPY unixcat /usr/bin/',
    'RUN --mount=type=ssh echo "sock=$SSH_AUTH_SOCK" && stat -c "%u:%g %a %F" $SSH_AUTH_SOCK && unixcat $SSH_AUTH_SOCK hello && echo',
    'RUN --mount=type=ssh,id=work,target=/agent,uid=100,gid=101,mode=0640 --mount=type=ssh stat -c "%u:%g %a" /agent && echo "sock=$SSH_AUTH_SOCK" && unixcat /run/buildkit/ssh_agent.1 other && echo && unixcat /agent again && echo',
    'RUN --mount=type=ssh,id=absent echo "sock=$SSH_AUTH_SOCK" && ls /run/buildkit 2>&1 || echo no-socket',
    '',
  ].join('\n');
  const agents = { default: (b: Buffer) => Buffer.from(`default agent got ${b.toString()}`), work: (b: Buffer) => Buffer.from(`work agent got ${b.toString()}`) };
  const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [{ path: 'unixcat', mode: 0o100755, data: unixcat }] }, sshAgents: agents, name: 'bk-ssh' });
  assert.equal(r.error, undefined, r.error?.message);
  const logs = [...vertexesByName(r.status).entries()].filter(([n]) => n.includes('RUN')).map(([, v]) => v.logs);
  assert.deepEqual(logs, [
    'sock=/run/buildkit/ssh_agent.0\n0:0 600 socket\ndefault agent got hello\n',
    '100:101 640\nsock=/agent\ndefault agent got other\nwork agent got again\n',
    'sock=/run/buildkit/ssh_agent.0\nls: /run/buildkit: No such file or directory\nno-socket\n',
  ]);
  assert.equal(await run('bk-ssh', 'sh', '-c', 'ls -d /run/buildkit /agent 2>&1 | wc -l; env | grep -c SSH_AUTH_SOCK; true'), '2\n0\n');

  const required = 'FROM busybox\nRUN --mount=type=ssh,id=absent,required true\n';
  const unset = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', required)], context: [] }, sshAgents: agents });
  assert.match(unset.error?.message ?? '', /unset ssh forward key absent/);
  const none = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nRUN --mount=type=ssh,required=true true\n')], context: [] } });
  assert.match(none.error?.message ?? '', /no SSH key "default" forwarded from the client/);
  assert.equal(await ping(d.socket), true);
});

const MOUNTS_DOCKERFILE = [
  'FROM busybox',
  'ARG WHO=world',
  "RUN --mount=type=cache,target=/var/cache/app sh -c 'echo run >> /var/cache/app/runs; echo runs=$(wc -l < /var/cache/app/runs)'",
  'RUN --mount=type=bind,source=data.txt,target=/mnt/data.txt cat /mnt/data.txt',
  'RUN --mount=type=secret,id=token cat /run/secrets/token',
  'RUN --mount=type=secret,id=absent ls /run/secrets 2>&1 || echo no-secret-dir',
  'RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch',
  'RUN <<EOT',
  'echo "heredoc $WHO"',
  'echo second line',
  'EOT',
  'RUN <<EOT',
  '#!/bin/sh',
  'echo "script $0"',
  'EOT',
  'COPY <<EOF /etc/greeting',
  'who=${WHO}',
  'quoted="kept" \\$literal',
  'EOF',
  'RUN --network=none ip link | grep -q eth0 && echo has-eth0 || echo no-eth0',
  '',
].join('\n');

async function mountsBuild(data: string, extra: Record<string, string> = {}) {
  const r = await buildkitBuild(d.socket, {
    dirs: { context: [file('data.txt', data)], dockerfile: [file('Dockerfile', MOUNTS_DOCKERFILE)] },
    secrets: { token: 's3cr3t-value' },
    attrs: extra,
    name: 'bk-mounts',
  });
  assert.equal(r.error, undefined, r.error?.message);
  const logs = [...vertexesByName(r.status).entries()].filter(([n]) => /RUN/.test(n)).map(([n, v]) => [n.replace(/^\[ *\d+\/\d+\] /, ''), v.logs, v.cached]);
  return logs;
}

test("BuildKit's Dockerfile: RUN --mount (cache, bind, secret, tmpfs), --network, here-documents", async () => {
  const first = await mountsBuild('bound v1\n');
  assert.deepEqual(first.map(([n, l]) => [String(n).split(' ')[1]?.startsWith('--') ? String(n).split(' ')[1]!.split(',')[0] : n, l]), [
    ['--mount=type=cache', 'runs=1\n'],
    ['--mount=type=bind', 'bound v1\n'],
    ['--mount=type=secret', 's3cr3t-value'],
    ['--mount=type=secret', 'ls: /run/secrets: No such file or directory\nno-secret-dir\n'],
    ['--mount=type=tmpfs', 'x\n'],
    ['RUN <<EOT', 'heredoc world\nsecond line\n'],
    ['RUN <<EOT', 'script /dev/pipes/EOT\n'],
    ['--network=none', 'no-eth0\n'],
  ]);
  // The mount points, the secret and the here-document script are not in the image.
  assert.equal(await run('bk-mounts', 'sh', '-c', 'ls -d /var/cache/app /mnt /run/secrets /scratch /dev/pipes/EOT 2>&1 | wc -l; grep -rl s3cr3t-value /etc /var /run /root 2>/dev/null | wc -l'), '5\n0\n');
  assert.equal(await run('bk-mounts', 'cat', '/etc/greeting'), 'who=world\nquoted="kept" $literal\n');
  const history = await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'bk-mounts']);
  assert.match(history.stdout, /--mount=type=cache,target=\/var\/cache\/app \|1 WHO=world \/bin\/sh -c/);

  // The same build: every step from the cache. A changed bind source reruns its step (and what follows).
  const cached = await mountsBuild('bound v1\n');
  assert.ok(cached.every(([, , c]) => c === true), JSON.stringify(cached));
  const changed = await mountsBuild('bound v2\n');
  assert.deepEqual(changed.slice(0, 2).map(([, l, c]) => [l, c]), [['', true], ['bound v2\n', false]]);
  // The cache mount kept its content between builds.
  const again = await mountsBuild('bound v1\n', { 'no-cache': '' });
  assert.equal(again[0]![1], 'runs=2\n');

  // It is build cache: listed by system df, removed by builder prune.
  const df = jsonBody<{ BuildCache: Array<{ Type: string; Description: string; Size: number }> }>(await socketRequest(d.socket, 'GET', '/v1.47/system/df?type=build-cache'));
  assert.deepEqual(df?.BuildCache.map((c) => [c.Type, c.Description]), [['exec.cachemount', 'cached mount /var/cache/app (id /var/cache/app)']]);
  assert.ok(df!.BuildCache[0]!.Size >= 8);
  const pruned = jsonBody<{ CachesDeleted: string[]; SpaceReclaimed: number }>(await socketRequest(d.socket, 'POST', '/v1.47/build/prune'));
  assert.equal(pruned?.CachesDeleted.length, 1);
  assert.equal(pruned?.SpaceReclaimed, df!.BuildCache[0]!.Size);
  const after = await mountsBuild('bound v1\n', { 'no-cache': '' });
  assert.equal(after[0]![1], 'runs=1\n');
});

test("BuildKit's Dockerfile: an rw bind of the context writes to a view of it, dropped after the step", async () => {
  const dockerfile = [
    'FROM busybox',
    // Writes, a new file and a removal in the view; nothing of them reaches the context or the layer.
    "RUN --mount=type=bind,target=/src,rw sh -c 'echo changed > /src/data.txt && echo new > /src/sub/new.txt && rm /src/keep.txt && cat /src/data.txt && ls /src /src/sub && stat -c %a:%u /src /src/sub'",
    "RUN --mount=type=bind,source=data.txt,target=/f,rw sh -c 'echo more >> /f && cat /f && stat -c %a /f'",
    "RUN --mount=type=bind,target=/src sh -c 'cat /src/data.txt /src/keep.txt; ls /src/sub; touch /src/x 2>&1 | grep -o Read-only; stat -c %a:%u /src'",
    'COPY . /copied/',
    '',
  ].join('\n');
  const r = await buildkitBuild(d.socket, {
    dirs: { context: [file('data.txt', 'original\n', 0o640), file('keep.txt', 'kept\n'), dir('sub', 0o750), file('sub/old.txt', 'old\n')], dockerfile: [file('Dockerfile', dockerfile)] },
    name: 'bk-rwbind',
  });
  assert.equal(r.error, undefined, r.error?.message);
  const logs = [...vertexesByName(r.status).entries()].filter(([n]) => /RUN/.test(n)).map(([, v]) => v.logs);
  assert.deepEqual(logs, [
    'changed\n/src:\ndata.txt\nsub\n\n/src/sub:\nnew.txt\nold.txt\n755:0\n750:0\n',
    'original\nmore\n640\n',
    'original\nkept\nold.txt\nRead-only\n755:0\n',
  ]);
  // The next step's context is the one sent; the image has neither the writes nor the mount points.
  assert.equal(await run('bk-rwbind', 'sh', '-c', 'cat /copied/data.txt /copied/keep.txt; ls /copied/sub; ls -d /src /f 2>&1 | wc -l'), 'original\nkept\nold.txt\n2\n');
  // No view is left mounted.
  const mounts = await readFile(`/proc/${d.pid}/mountinfo`, 'utf8');
  assert.doesNotMatch(mounts, /docker-builder-rw/);
});

test("BuildKit's Dockerfile: a cache mount from a stage starts as its source directory; mode, owner and namespace make another cache", async () => {
  const dockerfile = (seed: string, pass: number) => [
    'FROM busybox AS deps',
    `RUN mkdir -p /opt/cache && echo ${seed} > /opt/cache/s.txt && chown -R 1000:1000 /opt/cache && chmod 0750 /opt/cache`,
    'FROM busybox',
    `RUN --mount=type=cache,id=seeded,from=deps,source=/opt/cache,target=/c sh -c 'cat /c/s.txt; stat -c %a:%u /c; echo run >> /c/runs; wc -l < /c/runs' ${pass}`,
    "RUN --mount=type=cache,id=plain,target=/p,uid=7 sh -c 'stat -c %u /p; touch /p/x'",
    "RUN --mount=type=cache,id=plain,target=/p sh -c 'stat -c %u /p; ls /p | wc -l'",
    '',
  ].join('\n');
  const build = async (seed: string, pass: number) => {
    const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile(seed, pass))], context: [] } });
    assert.equal(r.error, undefined, r.error?.message);
    return [...vertexesByName(r.status).entries()].filter(([n]) => /RUN --mount/.test(n)).map(([, v]) => v.logs);
  };
  assert.deepEqual(await build('one', 1), ['one\n750:1000\n1\n', '7\n', '0\n0\n']);
  // The cache is kept, not filled again (the stage comes from the build cache: the same image);
  // another base image is another cache.
  assert.deepEqual((await build('one', 2))[0], 'one\n750:1000\n2\n');
  assert.deepEqual((await build('two', 3))[0], 'two\n750:1000\n1\n');
  const refused = async (mount: string) => (await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', `FROM busybox AS deps\nFROM busybox\nRUN --mount=${mount} true\n`)], context: [] } })).error?.message;
  assert.equal(await refused('type=cache,from=deps,source=/missing,target=/c'), 'lstat /missing: no such file or directory');
  assert.equal(await refused('type=cache,source=/sub,target=/c'), 'lstat /sub: no such file or directory');

  // BUILDKIT_CACHE_MOUNT_NS: the same id in another namespace is another cache.
  const counted = async (ns: string) => {
    const r = await buildkitBuild(d.socket, {
      dirs: { dockerfile: [file('Dockerfile', "FROM busybox\nRUN --mount=type=cache,id=nsc,target=/n sh -c 'echo x >> /n/runs; wc -l < /n/runs'\n")], context: [] },
      attrs: { 'no-cache': '', ...(ns ? { 'build-arg:BUILDKIT_CACHE_MOUNT_NS': ns } : {}) },
    });
    assert.equal(r.error, undefined, r.error?.message);
    return [...vertexesByName(r.status).entries()].find(([n]) => n.includes('RUN'))?.[1].logs;
  };
  assert.deepEqual([await counted('one'), await counted('one'), await counted('two'), await counted('')], ['1\n', '2\n', '1\n', '1\n']);
});

test("BuildKit's Dockerfile: COPY of here-documents and context files at once", async () => {
  const dockerfile = ['FROM busybox', 'COPY <<one data.txt <<two /d/', 'first', 'one', 'second', 'two', 'RUN ls /d && cat /d/one /d/data.txt /d/two', ''].join('\n');
  const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [file('data.txt', 'from the context\n')] } });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal([...vertexesByName(r.status).entries()].find(([n]) => n.includes('RUN ls'))?.[1].logs, 'data.txt\none\ntwo\nfirst\nfrom the context\nsecond\n');
});

test("BuildKit's automatic platform ARGs: global for FROM, declared to be used in a stage, a build arg overriding each; the sandbox's hostname", async () => {
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch]!;
  const dockerfile = [
    'ARG TARGETARCH',
    'FROM --platform=$BUILDPLATFORM busybox AS build',
    'ARG BUILDPLATFORM TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT TARGETSTAGE',
    'RUN echo "$BUILDPLATFORM $TARGETPLATFORM $TARGETOS/$TARGETARCH v=$TARGETVARIANT stage=$TARGETSTAGE"',
    'RUN echo "undeclared=${BUILDOS:-none}" && echo "host=$(hostname)"',
    'FROM build AS final',
    '',
  ].join('\n');
  const logs = async (attrs: Record<string, string>) => {
    const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', dockerfile)], context: [] }, attrs });
    assert.equal(r.error, undefined, r.error?.message);
    return [...vertexesByName(r.status).entries()].filter(([n]) => n.includes('RUN echo')).map(([, v]) => v.logs);
  };
  // The steps run as BuildKit's sandbox does, under its hostname.
  assert.deepEqual(await logs({}), [`linux/${arch} linux/${arch} linux/${arch} v= stage=final\n`, 'undeclared=none\nhost=buildkitsandbox\n']);
  assert.deepEqual((await logs({ 'build-arg:TARGETARCH': 'riscv64', target: 'build', 'no-cache': '' }))[0], `linux/${arch} linux/${arch} linux/riscv64 v= stage=build\n`);
  // An unused build arg earns no warning (the classic builder's "were not consumed" is not BuildKit's).
  const unused = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nRUN true\n')], context: [] }, attrs: { 'build-arg:NOBODY_USES': 'x' } });
  assert.equal(unused.error, undefined, unused.error?.message);
  assert.deepEqual([...vertexesByName(unused.status).keys()].filter((n) => n.includes('builder messages')), []);
});

test("a RUN on the host's network needs the client's network.host entitlement (`--allow network.host`), cached or not", async () => {
  const build = (text: string, attrs: Record<string, string>, entitlements?: string[]) =>
    buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', text)], context: [] }, attrs, ...(entitlements ? { entitlements } : {}) });
  const onHost = 'FROM busybox\nRUN --network=host echo ran\n';
  assert.equal((await build(onHost, {})).error?.message, 'network.host is not allowed');
  // The build's own --network=host (force-network-mode) too.
  assert.equal((await build('FROM busybox\nRUN echo x\n', { 'force-network-mode': 'host' })).error?.message, 'network.host is not allowed');
  const allowed = await build(onHost, {}, ['network.host']);
  assert.equal(allowed.error, undefined, allowed.error?.message);
  assert.equal([...vertexesByName(allowed.status).entries()].find(([n]) => n.includes('RUN'))?.[1].logs, 'ran\n');
  // Now in the cache, it is still refused without the entitlement.
  assert.equal((await build(onHost, {})).error?.message, 'network.host is not allowed');
});

/** BuildKit's own case for COPY --exclude (its frontend's exclude_patterns_test.go), with --parents and ADD --unpack beside it. */
const FILTER_CONTEXT = [
  file('dir1/file-101.png', '2'),
  file('dir1/file-102.txt', '3'),
  file('dir1/file-103.jpeg', '4'),
  file('dir2/file-201.pdf', '6'),
  file('dir2/file-202.jpeg', '7'),
  file('dir3/file-301.mp3', '9'),
  file('dir3/file-302.mpeg', '10'),
  file('dir4/file-401.txt', '11'),
  symlink('dir4/file-402.txt', 'file-401.txt'),
  dir('x', 0o750),
  file('x/a.txt', 'xa'),
  file('x/y/a.txt', 'xya'),
  file('x/y/b.md', 'xyb'),
  file('y/a.txt', 'ya'),
  file('src/a.txt', 'sa'),
  file('src/x/b.txt', 'sxb'),
  file('src/x/y/c.txt', 'sxyc'),
  file('src/x/y/d.bin', 'not a txt'),
];

const FILTER_DOCKERFILE = `FROM scratch AS images
COPY --exclude=*/*.png --exclude=*/*.jpeg . /1
FROM scratch AS docs
COPY --exclude=*/*.pdf --exclude=*/*.txt . /2
FROM scratch AS mp3
ADD --exclude=*.mp3 dir3/ /3/
FROM scratch AS wildcard
COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/
FROM scratch AS all
ADD --exclude=* dir* /6/
FROM scratch AS parents
COPY --parents ./x/a.txt ./y/a.txt /parents/
COPY ./x/a.txt ./y/a.txt /no_parents/
COPY --parents ./x/./y/*.txt /pivot/
COPY --parents --exclude=**/c.txt ./src/**/*.txt /deep/
COPY --parents x/y /whole/
FROM scratch AS unpack
ADD --unpack=false t.tar /kept/
ADD t.tar /unpacked/
FROM scratch
COPY --from=images / /images
COPY --from=docs / /docs
COPY --from=mp3 / /mp3
COPY --from=wildcard / /wildcard
COPY --from=all / /all
COPY --from=parents / /parents
COPY --from=unpack / /unpack
`;

test('COPY --exclude and --parents, ADD --exclude and --unpack, as BuildKit copies; an excluded file changed leaves the step cached', async () => {
  const tarball = Buffer.concat([...tarEntryBlocks({ name: 'inside', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 2 }, [Buffer.from('in')]), tarEnd()]);
  const context = [...FILTER_CONTEXT, { path: 't.tar', mode: 0o100644, data: tarball }];
  const build = (ctx: typeof context) => buildkitBuild(d.socket, { dirs: { context: ctx, dockerfile: [file('Dockerfile', FILTER_DOCKERFILE)] }, exporter: 'local' });
  const r = await build(context);
  assert.equal(r.error, undefined, r.error?.message);
  const files = r.output.files!;
  const under = (prefix: string) =>
    [...files.keys()]
      .filter((n) => n.startsWith(prefix + '/'))
      .map((n) => n.slice(prefix.length + 1))
      .sort();
  assert.deepEqual(under('images/1'), ['dir1', 'dir1/file-102.txt', 'dir2', 'dir2/file-201.pdf', 'dir3', 'dir3/file-301.mp3', 'dir3/file-302.mpeg', 'dir4', 'dir4/file-401.txt', 'dir4/file-402.txt', 't.tar', 'x', 'x/a.txt', 'x/y', 'x/y/a.txt', 'x/y/b.md', 'y', 'y/a.txt', 'src', 'src/a.txt', 'src/x', 'src/x/b.txt', 'src/x/y', 'src/x/y/c.txt', 'src/x/y/d.bin'].sort());
  assert.equal(files.get('images/1/dir4/file-402.txt')?.linkname, 'file-401.txt');
  assert.deepEqual(under('docs/2').filter((n) => n.startsWith('dir')), ['dir1', 'dir1/file-101.png', 'dir1/file-103.jpeg', 'dir2', 'dir2/file-202.jpeg', 'dir3', 'dir3/file-301.mp3', 'dir3/file-302.mpeg', 'dir4']);
  assert.deepEqual(under('mp3/3'), ['file-302.mpeg']);
  // Each matched directory's contents, filtered below it (the directory itself is never excluded).
  assert.deepEqual(under('wildcard/4'), ['file-302.mpeg']);
  assert.deepEqual(under('all/6'), []);
  assert.deepEqual(under('parents/parents'), ['x', 'x/a.txt', 'y', 'y/a.txt']);
  assert.equal(files.get('parents/parents/x')!.mode & 0o777, 0o750, 'a parent made as the source directory is');
  assert.deepEqual(under('parents/no_parents'), ['a.txt']);
  assert.deepEqual(under('parents/pivot'), ['y', 'y/a.txt']);
  assert.deepEqual(under('parents/deep'), ['src', 'src/a.txt', 'src/x', 'src/x/b.txt']);
  assert.deepEqual(under('parents/whole'), ['x', 'x/y', 'x/y/a.txt', 'x/y/b.md']);
  assert.equal(files.get('parents/deep/src/x/b.txt')?.data?.toString(), 'sxb');
  assert.deepEqual(under('unpack/kept'), ['t.tar']);
  assert.deepEqual(under('unpack/unpacked'), ['inside']);

  // A file the --exclude leaves out changes: the step's cache still holds. One it copies: the step runs.
  const stepCached = (res: Awaited<ReturnType<typeof build>>, step: string) => [...vertexesByName(res.status)].find(([n]) => n.includes(step))?.[1].cached;
  const changed = (path: string) => context.map((e) => (e.path === path ? { ...e, data: 'changed' } : e));
  const excludedChanged = await build(changed('dir3/file-301.mp3'));
  assert.equal(excludedChanged.error, undefined, excludedChanged.error?.message);
  assert.equal(stepCached(excludedChanged, 'ADD --exclude=*.mp3 dir3/ /3/'), true);
  assert.equal(stepCached(excludedChanged, 'COPY --parents --exclude=**/c.txt'), true);
  const takenChanged = await build(changed('src/x/b.txt'));
  assert.equal(stepCached(takenChanged, 'ADD --exclude=*.mp3 dir3/ /3/'), true);
  assert.equal(stepCached(takenChanged, 'COPY --parents --exclude=**/c.txt'), false);

  // A path without wildcards that is not there fails the build; a bad pattern too.
  for (const [line, message] of [
    ['COPY --parents ./x/nope.txt /p/', /^failed to compute cache key: failed to calculate checksum of ref moby::[0-9a-z]{25}: "\/x\/nope\.txt": not found$/],
    ['COPY --exclude=[ . /p/', /invalid excludepatterns: syntax error in pattern/],
  ] as const) {
    const bad = await buildkitBuild(d.socket, { dirs: { context: FILTER_CONTEXT, dockerfile: [file('Dockerfile', `FROM scratch\n${line}\n`)] }, exporter: 'local' });
    assert.match(bad.error?.message ?? '', message);
  }
});

test("a source that is not there is BuildKit's missing checksum; `..` stops at the context's root, as BuildKit cleans it", async () => {
  const context = [file('f', 'in the context')];
  const build = (line: string) => buildkitBuild(d.socket, { dirs: { context, dockerfile: [file('Dockerfile', `FROM scratch\n${line}\n`)] }, exporter: 'local' });
  for (const [line, path] of [
    ['COPY nosuch /x', '/nosuch'],
    ['COPY sub/../nosuch /x', '/nosuch'],
    ['ADD nomatch* /x/', '/nomatch*'],
  ] as const) {
    const r = await build(line);
    assert.match(r.error?.message ?? '', new RegExp(`^failed to compute cache key: failed to calculate checksum of ref moby::[0-9a-z]{25}: "${path.replace('*', '\\*')}": not found$`), line);
  }
  const up = await build('COPY ../../f /from-above');
  assert.equal(up.error, undefined, up.error?.message);
  assert.equal(up.output.files!.get('from-above')?.data?.toString(), 'in the context');
  // The classic builder keeps its own words for both.
  const classic = await d.docker(['build', '-'], { env: { DOCKER_BUILDKIT: '0' }, input: 'FROM busybox\nCOPY ../Dockerfile /d\n' });
  assert.match(classic.stderr, /Forbidden path outside the build context: \.\.\/Dockerfile \(\)/);
});

test('several sources and a destination without a trailing /: into it when it is a directory, else it becomes each in turn, as BuildKit copies', async () => {
  const context = [file('a.json', 'A'), file('b.json', 'B'), file('d1/x', 'x'), file('d2/y', 'y')];
  const dockerfile = ['FROM scratch', 'WORKDIR /app', 'COPY a.json b.json .', 'COPY *.json /app', 'COPY d1 d2 /merged', 'COPY a.json b.json /file', ''].join('\n');
  const r = await buildkitBuild(d.socket, { dirs: { context, dockerfile: [file('Dockerfile', dockerfile)] }, exporter: 'local' });
  assert.equal(r.error, undefined, r.error?.message);
  const files = r.output.files!;
  assert.deepEqual([...files.keys()].sort(), ['app', 'app/a.json', 'app/b.json', 'file', 'merged', 'merged/x', 'merged/y']);
  assert.equal(files.get('file')?.data?.toString(), 'B');
  // The classic builder keeps refusing it.
  const classic = await d.docker(['build', '-'], { env: { DOCKER_BUILDKIT: '0' }, input: 'FROM busybox\nCOPY Dockerfile Dockerfile /file\n' });
  assert.match(classic.stderr, /When using COPY with more than one source file, the destination must be a directory and end with a \//);
});

test('COPY --chmod as BuildKit applies it: octal (to the directories it makes too) or symbolic, and part of the cache key; --chown owns every directory made', async () => {
  const context = [file('foo', 'foo-contents', 0o600), file('bar', 'bar-contents', 0o700), dir('tree'), file('tree/f', 'f', 0o600), dir('tree/sub', 0o700)];
  const dockerfile = (first: string) =>
    [
      'FROM scratch',
      `COPY --chmod=${first} foo /`,
      'COPY --chmod=777 bar /baz',
      'COPY --chmod=0 foo /foobis',
      'COPY --chmod=777 foo /parent/foo',
      'COPY --chmod=770 foo /parent/sub/foo',
      'COPY --chmod=u+x,go=rX foo /sym',
      'COPY --chmod=a=rX tree /tree/',
      'COPY --chown=1000:1001 tree /own/deep/',
      'ARG mode',
      'COPY --chmod=${mode} foo /footer',
      '',
    ].join('\n');
  const build = (first: string) => buildkitBuild(d.socket, { dirs: { context, dockerfile: [file('Dockerfile', dockerfile(first))] }, attrs: { 'build-arg:mode': '755' }, exporter: 'local' });
  const r = await build('0644');
  assert.equal(r.error, undefined, r.error?.message);
  const mode = (res: typeof r, path: string) => (res.output.files!.get(path)!.mode & 0o7777).toString(8);
  assert.deepEqual(
    ['foo', 'baz', 'foobis', 'parent', 'parent/sub', 'parent/sub/foo', 'sym', 'tree', 'tree/f', 'tree/sub', 'footer'].map((p) => [p, mode(r, p)]),
    [['foo', '644'], ['baz', '777'], ['foobis', '0'], ['parent', '777'], ['parent/sub', '770'], ['parent/sub/foo', '770'], ['sym', '744'], ['tree', '755'], ['tree/f', '444'], ['tree/sub', '555'], ['footer', '755']],
  );
  // X looks at the mode before the change (foo was 0600), as BuildKit's BSD rules do; the destination a directory's
  // contents go to is made as any missing directory is, not with a symbolic mode.
  // Every directory a --chown copy makes is the owner's (the classic builder leaves a directory's parents to root).
  assert.deepEqual(['own', 'own/deep', 'own/deep/f'].map((p) => [r.output.files!.get(p)!.uid, r.output.files!.get(p)!.gid]), [[1000, 1001], [1000, 1001], [1000, 1001]]);
  // Another mode is another step: not the cached one of the first build.
  const other = await build('0600');
  assert.equal(other.error, undefined, other.error?.message);
  assert.equal(mode(other, 'foo'), '600');
  assert.equal([...vertexesByName(other.status)].find(([n]) => n.includes('COPY --chmod=0600 foo /'))?.[1].cached, false);
  for (const [bad, message] of [
    ['64a', "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"],
    ['10000', "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777"],
    ['u+q', 'invalid syntax'],
  ] as const) {
    const failed = await build(bad);
    assert.match(failed.error?.message ?? '', new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  }
});

test("the classic API builds as Docker 28's classic builder: BuildKit's flags refused when their step comes, --link and ADD's --checksum ignored, labs flags unknown", async () => {
  const classic = (dockerfile: string) => d.docker(['build', '--no-cache', '-'], { env: { DOCKER_BUILDKIT: '0' }, input: dockerfile });
  for (const [step, flag] of [
    ['RUN --mount=type=cache,target=/c true', 'mount'],
    ['RUN --network=none true', 'network'],
    ['COPY --chmod=600 Dockerfile /d', 'chmod'],
    ['ADD --chmod=600 Dockerfile /d', 'chmod'],
  ] as const) {
    const r = await classic(`FROM busybox\nRUN echo before\n${step}\n`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    // The steps before it ran; the refusal comes with its own step.
    assert.match(r.stdout, new RegExp(`\\nbefore\\n[^]*Step 3/3 : ${step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
    assert.match(r.stderr, new RegExp(`^the --${flag} option requires BuildKit\\. Refer to https://docs\\.docker\\.com/go/buildkit/ to learn how to build images with BuildKit enabled$`, 'm'));
  }
  for (const [dockerfile, message] of [
    ['FROM busybox\nRUN <<EOT\ntrue\nEOT\n', /heredocs \(<<EOF\) in RUN require BuildKit/],
    ['FROM busybox\nCOPY --exclude=x Dockerfile /d\n', /Error response from daemon: dockerfile parse error on line 2: unknown flag: --exclude\n/],
    ['FROM busybox\nRUN --security=insecure true\n', /Error response from daemon: dockerfile parse error on line 2: unknown flag: --security\n/],
  ] as const) {
    const r = await classic(dockerfile);
    assert.equal(r.code, 1);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /Step 1/);
  }
  // --link changes only how BuildKit stores a layer; the classic builder ignores ADD's --checksum.
  const built = await d.docker(['build', '-q', '-'], {
    env: { DOCKER_BUILDKIT: '0' },
    input: 'FROM busybox\nCOPY --link --chmod= Dockerfile /d\nADD --checksum=sha256:0000 --keep-git-dir Dockerfile /e\n',
  });
  assert.equal(built.code, 0, built.stderr);
  const cat = await d.docker(['run', '--rm', built.stdout.trim(), 'cat', '/d', '/e']);
  assert.match(cat.stdout, /^FROM busybox\n[^]*FROM busybox\n/);
});

test('a shared directory listing more than a million entries is refused, not held', { timeout: 300_000 }, async () => {
  const many = Array.from({ length: 1_000_001 }, (_, i) => dir(`d${i}`));
  const r = await buildkitBuild(d.socket, { dirs: { dockerfile: [file('Dockerfile', 'FROM busybox\nCOPY . /\n')], context: many }, name: 'bk-many' });
  assert.equal(r.error?.code, Status.RESOURCE_EXHAUSTED);
  assert.equal(r.error?.message, 'the shared directory context has more than 1000000 entries');
  assert.equal(await ping(d.socket), true);
});

test('-o type=local and type=tar: the image\'s files sent to the client, without the container\'s init files', async () => {
  const dockerfile = 'FROM busybox\nRUN mkdir -p /out/sub && echo built > /out/sub/f && ln -s sub/f /out/link && cp /bin/busybox /out/suid && chmod 4755 /out/suid\n';
  const local = await buildkitBuild(d.socket, { dirs: { context: [], dockerfile: [file('Dockerfile', dockerfile)] }, exporter: 'local' });
  assert.equal(local.error, undefined, local.error?.message);
  const files = local.output.files!;
  assert.equal(files.get('out/sub/f')?.data?.toString(), 'built\n');
  assert.equal(files.get('out/link')?.linkname, 'sub/f');
  assert.equal(files.get('out/suid')?.mode, 2 ** 23 + 0o755);
  assert.ok((files.get('out/suid')?.data?.length ?? 0) > 100_000);
  assert.equal((files.get('out/sub')!.mode >>> 0) >= 2 ** 31, true);
  for (const initFile of ['.dockerenv', 'etc/hostname', 'etc/resolv.conf']) assert.equal(files.has(initFile), false, initFile);
  assert.deepEqual(vertexesByName(local.status).get('exporting to client directory')?.completed, true);

  const tar = await buildkitBuild(d.socket, { dirs: { context: [], dockerfile: [file('Dockerfile', dockerfile)] }, exporter: 'tar' });
  assert.equal(tar.error, undefined, tar.error?.message);
  const listing = execFileSync('tar', ['-tvf', '-'], { input: tar.output.tar! }).toString();
  assert.match(listing, /^-rwsr-xr-x 0\/0 +\d+ .* out\/suid$/m);
  assert.match(listing, /^lrwxrwxrwx 0\/0 +0 .* out\/link -> sub\/f$/m);
  assert.equal(execFileSync('tar', ['-xOf', '-', 'out/sub/f'], { input: tar.output.tar! }).toString(), 'built\n');
  assert.doesNotMatch(listing, /\.dockerenv/);
  assert.doesNotMatch(listing, / 2001-09-09 /);

  // SOURCE_DATE_EPOCH dates every file both send.
  const epoch = { 'build-arg:SOURCE_DATE_EPOCH': '1000000000' };
  const dated = await buildkitBuild(d.socket, { dirs: { context: [], dockerfile: [file('Dockerfile', dockerfile)] }, attrs: epoch, exporter: 'local' });
  assert.equal(dated.error, undefined, dated.error?.message);
  const times = new Set([...dated.output.files!.values()].map((f) => f.modTime));
  assert.deepEqual([...times], [1e18]);
  const datedTar = await buildkitBuild(d.socket, { dirs: { context: [], dockerfile: [file('Dockerfile', dockerfile)] }, attrs: epoch, exporter: 'tar' });
  const datedListing = execFileSync('tar', ['--utc', '-tvf', '-'], { input: datedTar.output.tar! }).toString().trim().split('\n');
  assert.ok(datedListing.length > 10 && datedListing.every((l) => l.includes(' 2001-09-09 01:46 ')), datedListing.slice(0, 3).join('\n'));
});
