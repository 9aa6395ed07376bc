/**
 * Image builds (the classic builder) driven by the real Docker CLI with DOCKER_BUILDKIT=0, over
 * real Dockerfiles on the busybox fixture image: every instruction, multi-stage with --target,
 * .dockerignore, the cache, build args, a failing RUN, a cancelled build.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { countLeaks, jsonBody, loadBusybox, runCommand, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';
import { startRegistry } from '../fixtures/registry.js';
import { buildImage, busyboxTar, publishImage } from '../fixtures/registry-images.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tarFiles } from '../lib/tar-files.js';
import { gitRunner, serveGitRepos, twoBranchRepo } from '../lib/git-repos.js';

let d: Daemon;
let work: string;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  work = await mkdtemp(join(tmpdir(), 'wharf-build-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const ENV = { DOCKER_BUILDKIT: '0' };

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

async function build(args: string[], opts: { input?: string } = {}) {
  return d.docker(['build', ...args], { env: ENV, timeoutMs: 120_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

/** Pings the daemon until `building` ends; the slowest answer's time, in ms. */
/**
 * A ping's bound while a hostile build runs: the blocks these tests catch held the daemon 9 to
 * 30 s, while a turn between slices takes well under a second on a quiet machine and a few times
 * that with the other test files running beside it on two cores.
 */
const PING_BOUND_MS = 5000;

async function pingedWhile<T>(building: Promise<T>): Promise<{ r: T; slowest: number }> {
  let done = false;
  void building.finally(() => (done = true)).catch(() => {});
  let slowest = 0;
  while (!done) {
    const t = Date.now();
    assert.equal((await socketRequest(d.socket, 'GET', '/_ping')).status, 200);
    slowest = Math.max(slowest, Date.now() - t);
  }
  return { r: await building, slowest };
}

async function inspect(ref: string, format: string): Promise<string> {
  const r = await d.docker(['image', 'inspect', '-f', format, ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function run(image: string, ...cmd: string[]): Promise<string> {
  const r = await d.docker(['run', '--rm', image, ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/**
 * Whether runc made the cgroup `parent` (cgroup v1's memory hierarchy, or v2's): it leaves a
 * parent it made, as for containers, so a build's RUN container having been under it shows
 * after the build, from the host (a container on v2 sees only its own cgroup namespace).
 */
const cgroupMade = (parent: string) => existsSync(join('/sys/fs/cgroup/memory', parent)) || existsSync(join('/sys/fs/cgroup', parent));

describe('docker build (classic builder)', () => {
  test('every metadata instruction, RUN, COPY, ADD, WORKDIR; Docker\'s output and image config', async () => {
    const dir = await context('all', {
      'Dockerfile': [
        '# escape=\\',
        'FROM busybox AS base',
        'MAINTAINER someone@example.com',
        'ENV GREETING="hello world" \\',
        '    OTHER=${GREETING:-none}',
        'LABEL com.example.a="A b" com.example.b=${OTHER}',
        'WORKDIR /app',
        'COPY hello.txt sub/ ./',
        'ADD archive.tar /unpacked/',
        'COPY --chown=wharfuser:wharfgroup hello.txt /owned/',
        'RUN echo "$GREETING" > greeting && echo built',
        'USER 1000:1000',
        'EXPOSE 80 53/udp',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=5s --retries=2 CMD true',
        'SHELL ["/bin/sh", "-ec"]',
        'ONBUILD RUN echo child',
        'ENTRYPOINT ["/bin/echo"]',
        'CMD ["x"]',
        '',
      ].join('\n'),
      'hello.txt': 'hi there\n',
      'sub/inner.txt': 'inner\n',
    });
    // A tar for ADD to unpack.
    const tar = spawn('tar', ['-C', join(dir, 'sub'), '-cf', join(dir, 'archive.tar'), 'inner.txt']);
    await new Promise((r) => tar.on('close', r));
    const r = await build(['-t', 'all:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Step 1\/18 : FROM busybox AS base\n ---> [0-9a-f]{12}\n/m);
    assert.match(r.stdout, /Step 9\/18 : RUN echo "\$GREETING" > greeting && echo built\n ---> Running in [0-9a-f]{12}\nbuilt\n ---> Removed intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged all:1\n/);
    // Metadata steps and WORKDIR go through a container that is created, never started, and removed;
    // COPY and ADD through none (Docker's classic builder).
    const step = (n: number) => r.stdout.slice(r.stdout.indexOf(`Step ${n}/18 :`), r.stdout.indexOf(`Step ${n + 1}/18 :`));
    for (const n of [2, 3, 4, 5, 10, 17]) {
      assert.match(step(n), /\n ---> Running in ([0-9a-f]{12})\n ---> Removed intermediate container \1\n ---> [0-9a-f]{12}\n$/, step(n));
    }
    for (const n of [6, 7, 8]) assert.doesNotMatch(step(n), /Running in|intermediate/, step(n));
    const cfg = JSON.parse(await inspect('all:1', '{{json .Config}}'));
    assert.ok(cfg.Env.includes('GREETING=hello world'));
    // Docker expands all of an ENV line with the environment from before it.
    assert.ok(cfg.Env.includes('OTHER=none'));
    assert.deepEqual(cfg.Labels, { 'com.example.a': 'A b', 'com.example.b': 'none' });
    assert.equal(cfg.WorkingDir, '/app');
    assert.equal(cfg.User, '1000:1000');
    assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(cfg.Volumes, { '/data': {} });
    assert.equal(cfg.StopSignal, 'SIGQUIT');
    assert.deepEqual(cfg.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 });
    assert.deepEqual(cfg.Shell, ['/bin/sh', '-ec']);
    assert.deepEqual(cfg.OnBuild, ['RUN echo child']);
    assert.deepEqual(cfg.Entrypoint, ['/bin/echo']);
    assert.deepEqual(cfg.Cmd, ['x']);
    assert.equal(await inspect('all:1', '{{.Author}}'), 'someone@example.com');
    // History as Docker's classic builder writes it.
    const hist = await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'all:1']);
    const lines = hist.stdout.trim().split('\n');
    assert.equal(lines[0], '/bin/sh -ec #(nop)  CMD ["x"]');
    assert.ok(lines.includes('/bin/sh -c echo "$GREETING" > greeting && echo built'), hist.stdout);
    assert.ok(lines.some((l) => /^\/bin\/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in \.\/ $/.test(l)), hist.stdout);
    // The files.
    assert.equal(await run('--entrypoint', 'cat', 'all:1', '/app/hello.txt', '/app/inner.txt', '/app/greeting', '/unpacked/inner.txt'), 'hi there\ninner\nhello world\ninner\n');
    const owners = await d.docker(['run', '--rm', '--entrypoint', 'stat', 'all:1', '-c', '%u:%g %a', '/app/hello.txt']);
    assert.equal(owners.stdout, '0:0 644\n');
    const chowned = await d.docker(['run', '--rm', '--entrypoint', 'stat', 'all:1', '-c', '%u:%g %a', '/owned/hello.txt']);
    assert.equal(chowned.stdout, '1000:1001 644\n');
    // The ONBUILD trigger runs in a child.
    const child = await context('child', { Dockerfile: 'FROM all:1\n' });
    const c = await build(['-t', 'child:1', child]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /# Executing 1 build trigger\n ---> Running in [0-9a-f]{12}\nchild\n/);
    assert.deepEqual(JSON.parse(await inspect('child:1', '{{json .Config.OnBuild}}')), null);
  });

  test('cache: a rebuild uses it, a changed file misses from its COPY on; --no-cache builds all', async () => {
    const dir = await context('cache', {
      Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY f.txt /f.txt\nRUN cat /f.txt\n',
      'f.txt': 'v1\n',
    });
    const imagesBefore = (await d.docker(['images', '-aq'])).stdout.trim().split('\n').length;
    const busyboxId = await inspect('busybox', '{{.Id}}');
    const first = await build(['-t', 'cache:1', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stdout, /Using cache/);
    const again = await build(['-t', 'cache:1', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/ ---> Using cache/g)?.length, 3, again.stdout);
    assert.doesNotMatch(again.stdout, /Running in/);
    assert.equal(await inspect('cache:1', '{{.Id}}'), await inspect('cache:1', '{{.Id}}'));
    const firstId = /Successfully built (\w+)/.exec(first.stdout)![1];
    assert.equal(/Successfully built (\w+)/.exec(again.stdout)![1], firstId);
    // history names the intermediate images (the parent chain) on their rows, as Docker's does.
    const chain = [await inspect('cache:1', '{{.Id}}')];
    while (chain.length < 4) chain.push(await inspect(chain.at(-1)!, '{{.Parent}}'));
    assert.equal(chain[3], busyboxId);
    const hist = await d.docker(['history', '-q', '--no-trunc', 'cache:1']);
    assert.deepEqual(hist.stdout.trim().split('\n'), chain, hist.stdout);
    await writeFile(join(dir, 'f.txt'), 'v2\n');
    const changed = await build(['-t', 'cache:2', dir]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout.match(/ ---> Using cache/g)?.length, 1, changed.stdout);
    assert.match(changed.stdout, /Running in \w+\nv2\n/);
    // Without DOCKER_BUILDKIT and without buildx the CLI picks the classic builder from /_ping's Builder-Version: 1.
    const nocache = await d.docker(['build', '--no-cache', '-q', dir], { env: { DOCKER_BUILDKIT: undefined }, timeoutMs: 120_000 });
    assert.equal(nocache.code, 0, nocache.stderr);
    assert.match(nocache.stdout, /^sha256:[0-9a-f]{64}\n$/);
    // rmi removes a built image's intermediate images too, as Docker does, but not those another
    // image still needs; once all three are gone, so is every intermediate image.
    const cache2 = await inspect('cache:2', '{{.Id}}');
    const cache2Parent = await inspect('cache:2', '{{.Parent}}');
    const rm2 = await d.docker(['rmi', 'cache:2']);
    assert.equal(rm2.code, 0, rm2.stderr);
    // Its layers may be shared with the --no-cache build's (layer tars keep whole seconds), so
    // only the images are certain to go.
    const deleted = rm2.stdout.match(/^Deleted: (\S+)$/gm)?.map((l) => l.slice('Deleted: '.length)) ?? [];
    assert.ok(deleted.includes(cache2) && deleted.includes(cache2Parent), rm2.stdout);
    assert.equal((await d.docker(['image', 'inspect', cache2Parent])).code, 1);
    assert.equal(await run('cache:1', 'cat', '/f.txt'), 'v1\n');
    assert.equal((await d.docker(['rmi', 'cache:1'])).code, 0);
    assert.equal((await d.docker(['rmi', nocache.stdout.trim()])).code, 0);
    assert.equal((await d.docker(['images', '-aq'])).stdout.trim().split('\n').length, imagesBefore);
    assert.equal(await inspect('busybox', '{{.Id}}'), busyboxId);
  });

  test('--cache-from: a saved and reloaded image (no parent links) gives the cache, step by step', async () => {
    const dir = await context('cachefrom', {
      Dockerfile: 'FROM busybox\nENV A=1\nRUN echo one > /one\nCOPY f.txt /f.txt\nLABEL l=v\n',
      'f.txt': 'v1\n',
    });
    const first = await build(['-t', 'cf:1', dir]);
    assert.equal(first.code, 0, first.stderr);
    const id = await inspect('cf:1', '{{.Id}}');
    const tar = join(work, 'cf.tar');
    assert.equal((await d.docker(['save', '-o', tar, 'cf:1'])).code, 0);
    // Dropping the built image drops its intermediate images: the local cache is gone.
    assert.equal((await d.docker(['rmi', 'cf:1'])).code, 0);
    assert.equal((await d.docker(['load', '-i', tar])).code, 0);
    const plain = await build(['-t', 'cf:plain', dir]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /Using cache/, 'a loaded image is no local cache');
    assert.equal((await d.docker(['rmi', 'cf:plain'])).code, 0);
    const cached = await build(['--cache-from', 'cf:1', '--cache-from', 'no-such-image:x', '-t', 'cf:2', dir]);
    assert.equal(cached.code, 0, cached.stderr);
    assert.equal(cached.stdout.match(/ ---> Using cache/g)?.length, 4, cached.stdout);
    assert.doesNotMatch(cached.stdout, /Running in/);
    assert.equal(await inspect('cf:2', '{{.Id}}'), id, 'the last step reuses the source image itself');
    assert.equal(await run('cf:2', 'cat', '/one', '/f.txt'), 'one\nv1\n');
    // A changed file misses from its COPY on, the steps before still come from the source.
    await writeFile(join(dir, 'f.txt'), 'v2\n');
    const changed = await build(['--cache-from', 'cf:1', '-t', 'cf:3', dir]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout.match(/ ---> Using cache/g)?.length, 2, changed.stdout);
    assert.equal(await run('cf:3', 'cat', '/one', '/f.txt'), 'one\nv2\n');
    for (const t of ['cf:1', 'cf:3']) assert.equal((await d.docker(['rmi', t])).code, 0);
  });

  test('multi-stage with --target, COPY --from, build args and the unconsumed warning', async () => {
    const dir = await context('multi', {
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM ${BASE} AS builder',
        'ARG MSG=default',
        'RUN mkdir /out && echo "$MSG" > /out/msg',
        'FROM busybox AS final',
        'COPY --from=builder /out/msg /msg',
        'CMD ["cat", "/msg"]',
        'FROM final AS extra',
        'RUN false',
        '',
      ].join('\n'),
    });
    const r = await build(['--target', 'final', '--build-arg', 'MSG=from-arg', '--build-arg', 'UNUSED=1', '-t', 'multi:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/);
    assert.equal(await run('multi:1'), 'from-arg\n');
    const hist = await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'multi:1']);
    assert.doesNotMatch(hist.stdout, /MSG/);
    const arch = await inspect('busybox', '{{.Architecture}}');
    const plat = await build(['-'], { input: `ARG P=linux/${arch}\nFROM --platform=$P busybox AS a\nFROM --platform=linux/s390x a\n` });
    assert.equal(plat.code, 1, plat.stdout);
    assert.match(plat.stderr, /image with reference a was found but does not match the specified platform: wanted linux\/s390x, actual: linux\//);
    assert.match(plat.stdout, /Step 2\/3 : FROM --platform=\$P busybox AS a\n ---> \w{12}\n/);
    const bad = await build(['--target', 'nosuch', dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /target stage "nosuch" could not be found/);
  });

  test('COPY --from copies from the image itself: no container init files (.dockerenv, /etc/hostname)', async () => {
    const dir = await context('from-bare', { Dockerfile: 'FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nCOPY --from=a / /src/\n' });
    const r = await build(['-t', 'from-bare', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await run('from-bare', 'sh', '-c', 'cat /src/a; ls -A /src/.dockerenv /src/etc/hostname /src/etc/resolv.conf 2>&1 | grep -c "No such file"'), 'a\n3\n');
  });

  test('COPY --from: a cached step follows the source stage\'s and image\'s content, never their names', async () => {
    const src = await context('fromcache-src', { Dockerfile: 'FROM busybox\nCOPY f.txt /f.txt\n', 'f.txt': 'v1\n' });
    assert.equal((await build(['-q', '-t', 'fromsrc:1', src])).code, 0);
    const dir = await context('fromcache', {
      Dockerfile: 'FROM busybox AS src\nARG MSG\nRUN mkdir /out && echo "$MSG" > /out/msg\nFROM busybox\nARG X\nRUN echo "$X" > /x\nCOPY --from=src /out/ /o/\nCOPY --from=fromsrc:1 /f* /img/\n',
    });
    const step = async (msg: string, x: string, expect: string) => {
      const r = await build(['--build-arg', `MSG=${msg}`, '--build-arg', `X=${x}`, dir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const id = /Successfully built (\w+)/.exec(r.stdout)![1]!;
      assert.equal(await run(id, 'cat', '/o/msg', '/img/f.txt'), expect, r.stdout);
      return { id, out: r.stdout };
    };
    const first = await step('a', '1', 'a\nv1\n');
    const again = await step('a', '1', 'a\nv1\n');
    assert.doesNotMatch(again.out, /Running in/);
    assert.equal(again.id, first.id);
    // The source stage changes: its COPY --from misses, though the final stage's own steps hit.
    const changed = await step('b', '1', 'b\nv1\n');
    assert.match(changed.out, /COPY --from=src \/out\/ \/o\/\n(?! ---> Using cache)/);
    // The same source stage under a new parent: the copy is made (the source mounted after the miss).
    await step('a', '2', 'a\nv1\n');
    // Another image under the same tag.
    await writeFile(join(src, 'f.txt'), 'v2\n');
    assert.equal((await build(['-q', '-t', 'fromsrc:1', src])).code, 0);
    const retagged = await step('a', '1', 'a\nv2\n');
    assert.notEqual(retagged.id, first.id);
    assert.equal(retagged.out.match(/ ---> Using cache/g)?.length, 5, retagged.out);
  });

  test('a failing RUN: Docker\'s message and exit code; the container stays without --force-rm', async () => {
    const dir = await context('fail', { Dockerfile: 'FROM busybox\nRUN echo before\nRUN exit 3\n' });
    const before = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean).length;
    const r = await build([dir]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
    const kept = (await d.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean).length;
    assert.equal(kept, before + 1);
    await d.docker(['container', 'prune', '-f']);
    const forced = await build(['--force-rm', dir]);
    assert.equal(forced.code, 3);
    assert.equal((await d.docker(['ps', '-aq'])).stdout.trim(), '');
  });

  test("a step's layer is its container's upper dir taken whole: the saved tars match their diff IDs, times are whole seconds; --rm=false keeps the containers' files", async () => {
    const dir = await context('adopt', {
      Dockerfile:
        'FROM busybox\n' +
        'RUN mkdir -p /d && echo one > /d/f && ln /d/f /d/hard && ln -s f /d/soft && mkfifo /d/fifo && chmod 4755 /d/f && rm -rf /var && mkdir /var && echo v > /var/only && rm /bin/cat\n' +
        'COPY Dockerfile /d/\n' +
        'WORKDIR /w\n',
    });
    const r = await build(['-q', '-t', 'adopt:1', dir]);
    assert.equal(r.code, 0, r.stderr);
    const out = await run('adopt:1', 'sh', '-c', 'cat /d/hard; readlink /d/soft; test -p /d/fifo && echo fifo; stat -c %a /d/f; ls /var; test -e /bin/cat || echo nocat; stat -c %y /d/f /d /var/only /d/Dockerfile /w');
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 6), ['one', 'f', 'fifo', '4755', 'only', 'nocat']);
    // As an extraction of the layer's tar would have made them (Docker's tars carry whole seconds).
    for (const line of lines.slice(6)) assert.match(line, /:\d\d\.000000000 /, line);

    // Every layer rebuilt from its files and tar-split record is the tar its diff ID names.
    const saved = join(work, 'adopt.tar');
    assert.equal((await d.docker(['save', '-o', saved, 'adopt:1'])).code, 0);
    const files = await tarFiles(await readFile(saved));
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string; Layers: string[] }>;
    const config = JSON.parse(files.get(manifest[0]!.Config)!.toString()) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(
      manifest[0]!.Layers.map((l) => `sha256:${createHash('sha256').update(files.get(l)!).digest('hex')}`),
      config.rootfs.diff_ids,
    );

    // Kept step containers (--rm=false) keep what their step made: their upper dirs are copied, not taken.
    const before = new Set((await d.docker(['ps', '-aq', '--no-trunc'])).stdout.trim().split('\n').filter(Boolean));
    const kept = await build(['-q', '--rm=false', '--no-cache', '-t', 'adopt:2', dir]);
    assert.equal(kept.code, 0, kept.stderr);
    const made = (await d.docker(['ps', '-aq', '--no-trunc'])).stdout.trim().split('\n').filter((id) => id && !before.has(id));
    assert.equal(made.length, 2, 'RUN and WORKDIR each left their container (COPY makes none, as in Docker)');
    const diffs = await Promise.all(made.map(async (id) => (await d.docker(['diff', id])).stdout.split('\n')));
    assert.ok(diffs.some((diff) => diff.includes('A /d/hard') && diff.includes('A /var/only')), diffs.join('\n---\n'));
    assert.ok(diffs.some((diff) => diff.includes('A /w')), diffs.join('\n---\n'));
    assert.equal(await run('adopt:2', 'head', '/d/hard'), 'one\n');
    await d.docker(['rm', ...made]);
  });

  test('.dockerignore, a Dockerfile from stdin, -f, parse errors', async () => {
    const dir = await context('ignore', {
      'build/Dockerfile.custom': 'FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n',
      '.dockerignore': '# comment\n*.log\n**/secret\n!keep.log\nbuild\n',
      'a.txt': 'a',
      'x.log': 'x',
      'keep.log': 'k',
      'deep/er/secret': 's',
      'deep/er/fine': 'f',
    });
    const r = await build(['-f', join(dir, 'build/Dockerfile.custom'), '-t', 'ign:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const files = (await run('ign:1', 'find', '/ctx', '-type', 'f')).trim().split('\n').sort();
    assert.deepEqual(files, ['/ctx/.dockerignore', '/ctx/a.txt', '/ctx/deep/er/fine', '/ctx/keep.log']);
    const stdin = await build(['-t', 'stdin:1', '-'], { input: 'FROM busybox\nENV FROM_STDIN=1\n' });
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.match(await inspect('stdin:1', '{{json .Config.Env}}'), /FROM_STDIN=1/);
    // -f - with a context dir: the CLI adds the Dockerfile to the context's tar and ends the
    // stream right after its last file, without padding or end blocks.
    const stdinFile = await build(['-f', '-', '-t', 'stdin:2', dir], { input: 'FROM busybox\nCOPY a.txt /a.txt\n' });
    assert.equal(stdinFile.code, 0, stdinFile.stderr);
    assert.equal(await run('stdin:2', 'cat', '/a.txt'), 'a');
    const bad = await build(['-'], { input: 'FROM busybox\nFOO bar\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /dockerfile parse error on line 2: unknown instruction: FOO/);
  });

  test('symlinks in the context that point out of it are kept as they are, and never followed there', async () => {
    // Docker unpacks the context, and each COPY, chrooted into its destination: a relative link
    // climbing out of the context (a monorepo's `shared -> ../../shared`) is no breakout there.
    const dir = await context('links-out', { 'Dockerfile': 'FROM busybox\nCOPY . /ctx/\nRUN readlink /ctx/up; readlink /ctx/sub/shared\n', 'sub/a.txt': 'a' });
    await symlink('../../../../../../etc', join(dir, 'up'));
    await symlink('../../shared', join(dir, 'sub/shared'));
    const r = await build(['--no-cache', '-t', 'links:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\n\.\.\/\.\.\/shared$/m);
    // A source through such a link resolves inside the context, where there is no etc/passwd.
    const through = await build(['-f', '-', dir], { input: 'FROM busybox\nCOPY up/passwd /x\n' });
    assert.equal(through.code, 1);
    assert.match(through.stderr, /COPY failed: file not found in build context or excluded by \.dockerignore: stat up\/passwd: file does not exist/);
    // A git repository's URL is no ADD source to the classic builder: a path of the context, here missing.
    const git = await build(['-f', '-', dir], { input: 'FROM busybox\nADD git@example.com:a/b.git /x\n' });
    assert.equal(git.code, 1);
    assert.match(git.stderr, /ADD failed: file not found in build context or excluded by \.dockerignore: stat git@example\.com:a\/b\.git: file does not exist/);
  });

  test("RUN [] and a bare RUN, EXPOSE of a spaced expansion, blank ARG names: the classic builder's ways", async () => {
    const ok = await build(['-t', 'oddities:1', '--label', 'bar=$PATH', '--label', 'a=x y', '-'], { input: 'FROM busybox\nRUN []\nENV ports "  99   100 "\nEXPOSE 80 ${ports}\n' });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // Each --label is a step of its own, taken literally.
    assert.match(ok.stdout, /Step 5\/6 : LABEL a=x y\n[\s\S]*Step 6\/6 : LABEL bar=\$PATH\n/);
    assert.equal(await inspect('oddities:1', '{{json .Config.Labels}}'), '{"a":"x y","bar":"$PATH"}');
    assert.deepEqual(Object.keys(JSON.parse(await inspect('oddities:1', '{{json .Config.ExposedPorts}}'))).sort(), ['100/tcp', '80/tcp', '99/tcp']);
    // A RUN without arguments runs the shell with nothing to run: the shell's own failure.
    const bare = await build(['--force-rm', '-'], { input: 'FROM busybox\nRUN\n' });
    assert.equal(bare.code, 2, bare.stdout + bare.stderr);
    assert.match(bare.stderr, /The command '\/bin\/sh -c' returned a non-zero code: 2/);
    const blank = await build(['-'], { input: 'FROM busybox\nARG =foo\n' });
    assert.equal(blank.code, 1);
    assert.match(blank.stderr, /ARG names can not be blank/);
    // COPY --from an image that cannot be had: Docker wraps the pull's error (nothing listens on port 1).
    const from = await build(['-'], { input: 'FROM busybox\nCOPY --from=127.0.0.1:1/nosuch:1 /x /y\n' });
    assert.equal(from.code, 1);
    assert.match(from.stderr, /invalid from flag value 127\.0\.0\.1:1\/nosuch:1: .*127\.0\.0\.1:1/);
  });

  test('ADD unpacks what decompresses to a tar; a broken xz or an xz in a gzip is copied; a tar cut short fails', async () => {
    const dir = await context('add-archives', { Dockerfile: 'FROM busybox\nADD test.xz t.tar.xz.gz nested.tar.xz /got/\n' });
    // An xz stream that ends early (integration-cli's TestBuildXZHost), kept as a file.
    await writeFile(join(dir, 'test.xz'), Buffer.from('fd377a585a000004e6d6b446020021011600000074', 'hex'));
    const pack = tar.pack();
    pack.entry({ name: 'inner/foo' }, 'Hi');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const tarred = Buffer.concat(chunks);
    const xz = execFileSync('xz', ['-c'], { input: tarred });
    await writeFile(join(dir, 't.tar.xz.gz'), execFileSync('gzip', ['-c'], { input: xz }));
    await writeFile(join(dir, 'nested.tar.xz'), xz);
    const r = await build(['-t', 'addarch:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const listing = await run('addarch:1', 'sh', '-c', 'cd /got && find . | sort && cat inner/foo');
    assert.equal(listing, '.\n./inner\n./inner/foo\n./t.tar.xz.gz\n./test.xz\nHi');
    // A tar whose first header reads is an archive: cut inside its end blocks, the ADD fails.
    const broken = await context('add-broken', { Dockerfile: 'FROM busybox\nADD test.tar /\n' });
    await writeFile(join(broken, 'test.tar'), tarred.subarray(0, tarred.length - 1));
    const b = await build([broken]);
    assert.equal(b.code, 1, b.stdout + b.stderr);
    assert.match(b.stderr, /unexpected EOF/);
  });

  test('a later stage repeating a step hits the cache of the earlier one; EXPOSE order is no cache key', async () => {
    // The second stage needs the first (COPY --from), so it runs after it, as the classic builder runs every stage.
    const dir = await context('stage-cache', { Dockerfile: 'FROM busybox\nADD baz /\nFROM busybox\nADD baz /\nCOPY --from=0 /baz /z\n', baz: 'baz' });
    const first = await build(['-t', 'stagecache:1', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.split('Using cache').length - 1, 1, first.stdout);
    const again = await build(['-t', 'stagecache:2', '--cache-from', 'stagecache:1', dir]);
    assert.equal(again.stdout.split('Using cache').length - 1, 3, again.stdout);
    const ids: string[] = [];
    for (const ports of ['80 2375', '2375 80']) {
      const r = await build(['-q', '-'], { input: `FROM busybox\nEXPOSE ${ports}\n` });
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
    assert.equal(ids[0], ids[1]);
  });

  test('COPY --chown: a destination it makes for a directory and a file\'s new parents are the owner\'s', async () => {
    const dir = await context('chown-dest', {
      Dockerfile: 'FROM busybox\nCOPY --chown=1000:1001 sub /new/deep/\nCOPY --chown=1000:1001 sub /tmp/\nCOPY --chown=1000:1001 a.txt /p/q/a.txt\nCOPY sub /plain/\n',
      'sub/f': 'f',
      'a.txt': 'a',
    });
    const r = await build(['-t', 'chowndest:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const owners = await run('chowndest:1', 'stat', '-c', '%n %u:%g %a', '/new', '/new/deep', '/new/deep/f', '/tmp', '/tmp/f', '/p', '/p/q', '/p/q/a.txt', '/plain', '/plain/f');
    assert.equal(
      owners,
      ['/new 0:0 755', '/new/deep 1000:1001 755', '/new/deep/f 1000:1001 644', '/tmp 0:0 1777', '/tmp/f 1000:1001 644', '/p 1000:1001 755', '/p/q 1000:1001 755', '/p/q/a.txt 1000:1001 644', '/plain 0:0 755', '/plain/f 0:0 644'].join('\n') + '\n',
    );
  });

  test('COPY of an empty directory makes its destination, with or without --chown', async () => {
    const dir = await context('empty-dir', { Dockerfile: 'FROM busybox\nCOPY empty /newdir/\nCOPY empty /other\nCOPY --chown=1000:1001 empty /a/b/\n' });
    await mkdir(join(dir, 'empty'));
    const r = await build(['-t', 'emptydir:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await run('emptydir:1', 'stat', '-c', '%n %F %u:%g', '/newdir', '/other', '/a', '/a/b'), '/newdir directory 0:0\n/other directory 0:0\n/a directory 0:0\n/a/b directory 1000:1001\n');
  });

  test('a cancelled build leaves no container, mount or layer behind', async () => {
    const dir = await context('cancel', { Dockerfile: 'FROM busybox\nRUN echo started; sleep 600\n' });
    const layersBefore = (await readdir(join(d.dataRoot, 'overlay2'))).length;
    const child = spawn('/usr/local/bin/docker', ['-H', d.host, 'build', dir], { env: { ...process.env, ...ENV } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => /^started$/m.test(out), { timeoutMs: 60_000, what: 'the RUN step to start' });
    child.kill('SIGINT');
    await new Promise((r) => child.on('close', r));
    await waitFor(async () => (await d.docker(['ps', '-aq'])).stdout.trim() === '', { timeoutMs: 20_000, what: 'the build container to go' }).catch((err: Error) => {
      throw new Error(`${err.message}\n${d.log().slice(-3000)}`);
    });
    await waitFor(async () => (await readdir(join(d.dataRoot, 'overlay2'))).length === layersBefore, { timeoutMs: 20_000, what: 'layers to go' }).catch(async (err: Error) => {
      const mounts = await readdir(join(d.dataRoot, 'image/overlay2/layerdb/mounts')).catch(() => []);
      throw new Error(`${err.message}: ${(await readdir(join(d.dataRoot, 'overlay2'))).join(' ')} mounts=${mounts.join(' ')} ids=${[...d.containerIds()].join(' ')} containers=${(await readdir(join(d.dataRoot, 'containers'))).join(' ')} ps=${(await d.docker(['ps', '-a'])).stdout} leaks=${JSON.stringify(await countLeaks(d))}\n${d.log().slice(-3000)}`);
    });
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts, 0, JSON.stringify(leaks.details));
    assert.equal(leaks.conmon, 0, JSON.stringify(leaks.details));
    assert.deepEqual(await readdir(join(d.dataRoot, 'tmp')).then((l) => l.filter((n) => n.startsWith('docker-builder'))), []);
  });

  test('POST /build/cancel?id= ends the build started with that buildid, as the classic builder does', async () => {
    assert.deepEqual(await socketRequest(d.socket, 'POST', '/v1.41/build/cancel').then((r) => [r.status, jsonBody(r)]), [400, { message: 'build ID not provided' }]);
    // An ID that names no build is no error.
    assert.equal((await socketRequest(d.socket, 'POST', '/v1.41/build/cancel?id=nosuch')).status, 200);
    const body = Buffer.from('FROM busybox\nRUN echo started; sleep 600\n');
    let out = '';
    const ended = new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: d.socket, method: 'POST', path: '/v1.41/build?buildid=cancel-me&nocache=1', headers: { 'Content-Length': body.length } }, (res) => {
        res.on('data', (c: Buffer) => (out += c.toString()));
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    await waitFor(() => out.includes('started'), { timeoutMs: 60_000, what: 'the RUN step to start' });
    assert.equal((await socketRequest(d.socket, 'POST', '/v1.41/build/cancel?id=cancel-me')).status, 200);
    assert.equal(await ended, 200);
    assert.match(out, /errorDetail/);
    assert.doesNotMatch(out, /Successfully built/);
    await waitFor(async () => (await d.docker(['ps', '-aq'])).stdout.trim() === '', { timeoutMs: 20_000, what: 'the build container to go' });
  });

  test('wharf build: flags, .dockerignore before sending, tarball and stdin contexts, exit code', async () => {
    const dir = await context('wharf', {
      Dockerfile: 'FROM busybox\nARG FROM_ENV\nARG GIVEN\nRUN echo "$FROM_ENV $GIVEN" > /args && ls /sys/class/net > /nets\nCOPY . /ctx/\n',
      '.dockerignore': 'big\n',
      'big/blob': 'x'.repeat(1 << 20),
      'small.txt': 's',
    });
    const iid = join(work, 'iid');
    const r = await d.wharf(['build', '-t', 'w:1', '--build-arg', 'FROM_ENV', '--build-arg', 'GIVEN=g', '--label', 'a=b', '--network', 'none', '--iidfile', iid, dir], {
      env: { FROM_ENV: 'from-env' },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Step 1\/6 : FROM busybox\n/);
    assert.match(r.stdout, /Step 6\/6 : LABEL a=b\n/);
    assert.match(r.stdout, /Successfully tagged w:1\n/);
    const id = await inspect('w:1', '{{.Id}}');
    assert.equal(await readFile(iid, 'utf8'), id);
    assert.equal(await inspect('w:1', '{{index .Config.Labels "a"}}'), 'b');
    assert.equal(await run('w:1', 'cat', '/args', '/nets'), 'from-env g\nlo\n');
    assert.deepEqual((await run('w:1', 'find', '/ctx', '-type', 'f')).trim().split('\n').sort(), ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/small.txt']);
    // -q prints only the ID; a tarball context; a Dockerfile on stdin.
    const q = await d.wharf(['build', '-q', dir], { timeoutMs: 120_000 });
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const tarball = join(work, 'ctx.tar.gz');
    const tr = await runCommand('tar', ['-C', dir, '-czf', tarball, 'Dockerfile', 'small.txt']);
    assert.equal(tr.code, 0, tr.stderr);
    const fromTar = await d.wharf(['build', '-t', 'w:tar', tarball], { timeoutMs: 120_000 });
    assert.equal(fromTar.code, 0, fromTar.stderr);
    assert.equal(await run('w:tar', 'cat', '/ctx/small.txt'), 's');
    const fromStdin = await d.wharf(['build', '-t', 'w:stdin', '-'], { input: 'FROM busybox\nCMD ["echo", "stdin"]\n', timeoutMs: 120_000 });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(await run('w:stdin'), 'stdin\n');
    const failing = await d.wharf(['build', '-'], { input: 'FROM busybox\nRUN exit 7\n', timeoutMs: 120_000 });
    assert.equal(failing.code, 7);
    assert.match(failing.stderr, /The command '\/bin\/sh -c exit 7' returned a non-zero code: 7/);
    // The legacy builder's resource flags reach the RUN containers, as the Docker CLI sends them.
    const parent = `wcli${process.pid}`;
    try {
      const res = await d.wharf(['build', '--no-cache', '--ulimit', 'nofile=42:42', '--cgroup-parent', parent, '-m', '64m', '--memory-swap', '-1', '--cpu-shares', '100', '--shm-size', '8m', '-'], {
        input: 'FROM busybox\nRUN ulimit -n; df -k /dev/shm | tail -1\n',
        timeoutMs: 120_000,
      });
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /^42$/m);
      assert.ok(cgroupMade(parent), 'the RUN container was put under the cgroup parent');
      assert.match(res.stdout, /^shm\s+8192\s/m);
    } finally {
      for (const dir of ['', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[]))]) await rmdir(join('/sys/fs/cgroup', dir, parent)).catch(() => {});
    }
    const badMem = await d.wharf(['build', '-m', 'lots', '-'], { input: 'FROM busybox\n' });
    assert.equal(badMem.code, 125);
    assert.match(badMem.stderr, /invalid argument "lots" for "-m, --memory" flag/);
    await d.docker(['container', 'prune', '-f']);
  });

  test('dockerode buildImage and docker-compose build', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const dir = await context('dockerode', { Dockerfile: 'FROM busybox\nCOPY f /f\n', f: 'dockerode\n' });
    const stream = await docker.buildImage({ context: dir, src: ['Dockerfile', 'f'] }, { t: 'dode:1' });
    const result = await new Promise<Array<{ stream?: string; error?: string; aux?: { ID: string } }>>((res, rej) =>
      docker.modem.followProgress(stream, (err: Error | null, out: Array<{ stream?: string }>) => (err ? rej(err) : res(out))),
    );
    assert.ok(result.some((m) => m.aux?.ID?.startsWith('sha256:')), JSON.stringify(result));
    assert.equal(await run('dode:1', 'cat', '/f'), 'dockerode\n');

    const proj = await context('compose', {
      'docker-compose.yml': 'version: "2.4"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        WHO: compose\n    image: composed:1\n',
      Dockerfile: 'FROM busybox\nARG WHO\nRUN echo "built by $WHO" > /who\n',
    });
    const c = await runCommand('docker-compose', ['--ansi', 'never', '-p', 'buildtest', 'build'], {
      cwd: proj,
      env: { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config'), DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' },
      timeoutMs: 120_000,
    });
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.equal(await run('composed:1', 'cat', '/who'), 'built by compose\n');
  });

  test('POST /build refuses what it does not do with Docker\'s messages and statuses', async () => {
    const post = async (query: string, body = '') => {
      const r = await runCommand('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--unix-socket', d.socket, '-X', 'POST', '--data-binary', body, `http://localhost/v1.41/build?${query}`]);
      const lines = r.stdout.trimEnd().split('\n');
      return { status: Number(lines.pop()), body: lines.join('\n') };
    };
    const secopt = await post('securityopt=seccomp%3Dunconfined', 'FROM busybox\n');
    assert.equal(secopt.status, 400);
    assert.match(secopt.body, /security options are not supported on linux/);
    const isolation = await post('isolation=process', 'FROM busybox\n');
    assert.equal(isolation.status, 400);
    assert.match(isolation.body, /unsupported isolation: \\"process\\"/);
    const squash = await post('squash=1');
    assert.equal(squash.status, 400);
    assert.match(squash.body, /squash is only supported with experimental mode/);
    assert.equal((await post('buildargs=notjson')).status, 400);
    const missing = await post('dockerfile=nope', '');
    assert.equal(missing.status, 400, missing.body);
    assert.match(missing.body, /Cannot locate specified Dockerfile: nope/);
    const badTag = await post('t=Bad:Tag:x', 'FROM busybox\n');
    assert.equal(badTag.status, 400);
    // A parse error before any output is an HTTP error, as Docker answers it.
    const parse = await post('', 'FROM busybox\nEXPOSE\n');
    assert.equal(parse.status, 400);
    assert.match(parse.body, /dockerfile parse error on line 2: EXPOSE requires at least one argument/);

    const tarOf = async (entries: Array<[string, string]>) => {
      const pack = tar.pack();
      for (const [name, data] of entries) pack.entry({ name }, data);
      pack.finalize();
      const chunks: Buffer[] = [];
      for await (const c of pack) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const postTar = async (query: string, entries: Array<[string, string]>) =>
      socketRequest(d.socket, 'POST', `/v1.41/build?${query}`, { body: await tarOf(entries), headers: { 'Content-Type': 'application/x-tar' } });
    const empty = await postTar('', [['Dockerfile', '']]);
    assert.equal(empty.status, 400);
    assert.match(empty.body, /the Dockerfile \(Dockerfile\) cannot be empty/);
    const platform = await postTar('platform=foobar', [['Dockerfile', 'FROM busybox\n']]);
    assert.equal(platform.status, 400);
    assert.equal(jsonBody<{ message: string }>(platform)?.message, '"foobar": unknown operating system or architecture: invalid argument');
    // Docker unpacks the context chrooted into it: `../foo` and `/bar` are the context's foo and bar.
    const unclean = await postTar('t=unclean:1', [['Dockerfile', 'FROM busybox\nCOPY foo bar /x/\n'], ['../foo', 'foo0'], ['/bar', 'bar0']]);
    assert.equal(unclean.status, 200, unclean.body);
    assert.doesNotMatch(unclean.body, /errorDetail/);
    assert.equal(await run('unclean:1', 'cat', '/x/foo', '/x/bar'), 'foo0bar0');
  });

  test('RUN containers take the cgroup parent and cpuset mems of the build, as moby hands them on', async () => {
    const parent = `wbuild${process.pid}`;
    try {
      assert.equal(cgroupMade(parent), false);
      const r = await runCommand('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '--data-binary', 'FROM busybox\nRUN true\n', `http://localhost/v1.41/build?nocache=1&cgroupparent=${parent}&cpusetmems=0`]);
      assert.doesNotMatch(r.stdout, /errorDetail/);
      assert.ok(cgroupMade(parent), 'the RUN container was put under the cgroup parent');
    } finally {
      // runc leaves the parent it made, as it does for containers.
      for (const dir of ['', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[]))]) await rmdir(join('/sys/fs/cgroup', dir, parent)).catch(() => {});
    }
  });

  test("a RUN's stderr comes in red, stdout as is, as the classic builder streams them", async () => {
    const r = await runCommand('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '--data-binary', 'FROM busybox\nRUN echo out; echo err >&2\n', 'http://localhost/v1.41/build?nocache=1&rm=1']);
    const streams = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { stream?: string }).stream);
    assert.ok(streams.includes('\x1b[91merr\n\x1b[0m'), JSON.stringify(streams));
    assert.ok(streams.includes('out\n'), JSON.stringify(streams));
  });

  test('leftovers of a build cut short by a crash are removed at daemon start', async () => {
    await d.stop();
    const tmp = join(d.dataRoot, 'tmp');
    await mkdir(join(tmp, 'docker-builderLEFT', 'sub'), { recursive: true });
    await mkdir(join(tmp, 'build-layers'), { recursive: true });
    const mark = join(tmp, 'build-layers', 'a'.repeat(64));
    await writeFile(mark, '');
    // A RUN's copy-on-write view of the context, still mounted.
    const view = join(tmp, 'docker-builder-rwLEFT');
    for (const sub of ['upper', 'work', 'merged']) await mkdir(join(view, sub), { recursive: true });
    await writeFile(join(tmp, 'docker-builderLEFT', 'sub', 'kept'), 'x');
    const mounted = await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(tmp, 'docker-builderLEFT')},upperdir=${view}/upper,workdir=${view}/work`, `${view}/merged`]);
    assert.equal(mounted.code, 0, mounted.stderr);
    await d.restart();
    assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), /docker-builder-rwLEFT/);
    assert.deepEqual((await readdir(tmp)).filter((n) => n.startsWith('docker-builder')), []);
    assert.deepEqual(await readdir(join(tmp, 'build-layers')), []);
  });

  /** The IDs of the daemon's running containers once there are `count` (build steps' among them). */
  const runningContainers = (count: number, what: string) =>
    waitFor(
      async () => {
        const ids = (await d.docker(['ps', '-q'])).stdout.split('\n').filter(Boolean);
        return ids.length === count ? ids : undefined;
      },
      { timeoutMs: 60_000, what },
    );

  test("independent stages build side by side, shown as Docker's classic builder shows them, one stage after another", async () => {
    // Each RUN waits for a file the test puts in its container, so both must be running at once to finish.
    const wait = (name: string) => `RUN echo ${name}-started; until [ -e /go ]; do sleep 0.05; done; echo ${name} > /${name}`;
    const dir = await context('parallel', {
      Dockerfile: ['FROM busybox AS one', wait('one'), 'FROM busybox AS two', wait('two'), 'FROM busybox', 'COPY --from=one /one /one', 'COPY --from=1 /two /two', ''].join('\n'),
    });
    const building = build(['-t', 'par:1', dir]);
    const running = await runningContainers(2, "both stages' RUN containers running at once");
    // The second stage is released first: its output still comes after all of the first stage's.
    for (const id of [...running].reverse()) assert.equal((await d.docker(['exec', id, 'touch', '/go'])).code, 0);
    const r = await building;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^\[/m);
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('Step ') || l.endsWith('-started'));
    assert.deepEqual(steps, [
      'Step 1/7 : FROM busybox AS one',
      `Step 2/7 : ${wait('one')}`,
      'one-started',
      'Step 3/7 : FROM busybox AS two',
      `Step 4/7 : ${wait('two')}`,
      'two-started',
      'Step 5/7 : FROM busybox',
      'Step 6/7 : COPY --from=one /one /one',
      'Step 7/7 : COPY --from=1 /two /two',
    ]);
    assert.equal(await run('par:1', 'cat', '/one', '/two'), 'one\ntwo\n');
  });

  test("a failing stage: the stages before it finish and show, its error is the build's, the stages after it stop unseen", async () => {
    // The second stage fails while the first still runs: Docker would have built the first one whole before it.
    const wait = 'until [ -e /go ]; do sleep 0.05; done';
    const later = await context('parallel-fail-later', {
      Dockerfile: `FROM busybox AS first\nRUN ${wait}; echo first-done\nFROM busybox AS bad\nRUN ${wait}; echo bad-started; exit 5\nFROM busybox\nCOPY --from=first /etc/hostname /x\nCOPY --from=bad /etc/hostname /y\n`,
    });
    const building = build(['--force-rm', later]);
    const pair = await runningContainers(2, 'both stages running');
    const commandOf = async (id: string) => (await d.docker(['inspect', '-f', '{{json .Config.Cmd}}', id])).stdout;
    const [firstId, badId] = (await Promise.all(pair.map(async (id) => [id, await commandOf(id)] as const))).sort(([, a]) => (a.includes('first-done') ? -1 : 1)).map(([id]) => id);
    // The second stage fails (and its container goes) while the first still runs.
    assert.equal((await d.docker(['exec', badId!, 'touch', '/go'])).code, 0);
    await waitFor(async () => !(await d.docker(['ps', '-aq', '--no-trunc'])).stdout.includes(badId!.slice(0, 12)), { timeoutMs: 60_000, what: "the failing stage's container to go" });
    assert.equal((await d.docker(['exec', firstId!, 'touch', '/go'])).code, 0);
    const f = await building;
    assert.equal(f.code, 5, f.stdout + f.stderr);
    assert.match(f.stdout, new RegExp(`first-done\\n[^]*Step 4/7 : RUN until \\[ -e /go \\]; do sleep 0\\.05; done; echo bad-started; exit 5\\n ---> Running in [0-9a-f]{12}\\nbad-started\\n`));
    assert.doesNotMatch(f.stdout, /Step 5\/7/);
    assert.match(f.stderr, /The command '\/bin\/sh -c until \[ -e \/go \]; do sleep 0\.05; done; echo bad-started; exit 5' returned a non-zero code: 5/);

    // The first stage fails: the stages after it are stopped, their containers removed, nothing of them shown.
    const failing = await context('parallel-fail', {
      Dockerfile: 'FROM busybox AS bad\nRUN until [ -e /go ]; do sleep 0.05; done; exit 5\nFROM busybox AS slow\nRUN echo slow-started; sleep 600\nFROM busybox\nCOPY --from=slow /etc/hostname /x\nCOPY --from=bad /etc/hostname /y\n',
    });
    const stopping = build(['--force-rm', failing]);
    const both = await runningContainers(2, 'both stages running');
    // Release the failing stage's step (its command ends in exit 5) while the other runs.
    for (const id of both) {
      const cmd = (await d.docker(['inspect', '-f', '{{json .Config.Cmd}}', id])).stdout;
      if (cmd.includes('exit 5')) assert.equal((await d.docker(['exec', id, 'touch', '/go'])).code, 0);
    }
    const g = await stopping;
    assert.equal(g.code, 5, g.stdout + g.stderr);
    assert.doesNotMatch(g.stdout, /slow-started|Step 3\/7/);
    await waitFor(async () => (await d.docker(['ps', '-aq'])).stdout.trim() === '', { timeoutMs: 20_000, what: "the slow stage's container to go" });
  });

  test('side by side stages make a step they share once: the other waits and takes it from the cache', async () => {
    const stamp = `${Date.now()}-${Math.random()}`;
    const dir = await context('parallel-shared', {
      Dockerfile: [
        'FROM busybox AS a',
        `RUN echo ${stamp} > /f && sleep 1`,
        'RUN echo a > /a',
        'FROM busybox AS b',
        `RUN echo ${stamp} > /f && sleep 1`,
        'RUN echo b > /b',
        'FROM busybox',
        'COPY --from=a /f /a /',
        'COPY --from=b /f /b /b/',
        '',
      ].join('\n'),
    });
    const r = await build(['-t', 'shared:1', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    // The shared RUN ran once; each stage's own RUN ran.
    assert.equal(count(/^ ---> Using cache$/), 1, r.stdout);
    assert.equal(count(/^ ---> Running in /), 3, r.stdout);
    assert.equal(await run('shared:1', 'cat', '/f', '/a', '/b/f', '/b/b'), `${stamp}\na\n${stamp}\nb\n`);
    // With --no-cache nothing is shared, as with Docker.
    const n = await build(['--no-cache', '-t', 'shared:2', dir]);
    assert.equal(n.code, 0, n.stdout + n.stderr);
    assert.equal(n.stdout.split('\n').filter((l) => /^ ---> Running in /.test(l)).length, 4, n.stdout);
  });

  test('ADD from a URL and remote contexts (a local HTTP server): name (Content-Disposition included), mode 0600, Last-Modified; a 404 fails', async () => {
    const rdir = await context('remote-ctx', { Dockerfile: 'FROM busybox\nCOPY r.txt /r.txt\n', 'r.txt': 'from remote tar\n' });
    const tarFile = join(work, 'remote.tar');
    assert.equal((await runCommand('tar', ['-C', rdir, '-cf', tarFile, 'Dockerfile', 'r.txt'])).code, 0);
    const remoteTar = await readFile(tarFile);
    const server = createServer((req, res) => {
      if (req.url === '/Dockerfile') {
        res.end('FROM busybox\nCMD ["echo", "remote dockerfile"]\n');
      } else if (req.url === '/ctx.tar') {
        res.end(remoteTar);
      } else if (req.url === '/files/data.txt') {
        res.writeHead(200, { 'Last-Modified': 'Wed, 01 Jan 2020 00:00:00 GMT' });
        res.end('remote data\n');
      } else if (req.url === '/export/') {
        res.writeHead(200, { 'Content-Disposition': 'attachment; filename="../reports/q4.csv"' });
        res.end('a,b\n');
      } else if (req.url === '/intl/') {
        res.writeHead(200, { 'Content-Disposition': "attachment; filename*=UTF-8''na%C3%AFve.txt" });
        res.end('naive\n');
      } else if (req.url === '/plain/') {
        res.end('no name\n');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await build(['-t', 'url:1', '-'], { input: `FROM busybox\nADD ${base}/files/data.txt /d/\n` });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(await run('url:1', 'stat', '-c', '%a %Y %u', '/d/data.txt'), `600 ${Date.UTC(2020, 0, 1) / 1000} 0\n`);
      assert.equal(await run('url:1', 'cat', '/d/data.txt'), 'remote data\n');
      // A path ending in / is named by the Content-Disposition's filename (its last element, RFC
      // 2231 included); with none the file is __unnamed__, put inside the destination even without
      // a trailing / (moby's getFilenameForDownload and its directory source).
      const named = await build(['-t', 'url:2', '-'], { input: `FROM busybox\nADD ${base}/export/ /e/\nADD ${base}/intl/ /i/\nADD ${base}/plain/ /u\n` });
      assert.equal(named.code, 0, named.stdout + named.stderr);
      assert.equal(await run('url:2', 'cat', '/e/q4.csv', '/i/na\u00efve.txt', '/u/__unnamed__'), 'a,b\nnaive\nno name\n');
      const rd = await d.wharf(['build', '-t', 'remote:df', `${base}/Dockerfile`], { timeoutMs: 120_000 });
      assert.equal(rd.code, 0, rd.stdout + rd.stderr);
      assert.equal(await run('remote:df'), 'remote dockerfile\n');
      const rt = await d.wharf(['build', '-t', 'remote:tar', `${base}/ctx.tar`], { timeoutMs: 120_000 });
      assert.equal(rt.code, 0, rt.stdout + rt.stderr);
      assert.equal(await run('remote:tar', 'cat', '/r.txt'), 'from remote tar\n');
      const missing = await build(['-'], { input: `FROM busybox\nADD ${base}/nope /x\n` });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /failed to GET http:\/\/127\.0\.0\.1:\d+\/nope with status 404/);
    } finally {
      server.close();
    }
  });

  test('git contexts: remote= on the API and wharf build <git url>, #ref:subdir; hostile refs, subdirs and submodules refused', async () => {
    const repos = join(work, 'git');
    const repo = join(repos, 'app.git');
    const src = join(work, 'git-src');
    const g = gitRunner('master');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'Dockerfile'), 'FROM busybox\nCOPY top.txt /top.txt\n');
    await writeFile(join(src, 'top.txt'), 'from master\n');
    await writeFile(join(src, 'sub', 'Dockerfile'), 'FROM busybox\nCOPY s.txt /s.txt\n');
    await writeFile(join(src, 'sub', 'other.Dockerfile'), 'FROM busybox\nCOPY s.txt /other.txt\n');
    await writeFile(join(src, 'sub', 's.txt'), 'from sub\n');
    await runCommand('ln', ['-s', '/etc', join(src, 'escape')]);
    await twoBranchRepo(g, src, 'master', 'feature', () => writeFile(join(src, 'sub', 's.txt'), 'from feature\n'));
    await mkdir(repos, { recursive: true });
    await g(repos, 'clone', '-q', '--bare', src, repo);
    // A repository whose submodule points at a host path: git must refuse the file transport.
    const evil = join(work, 'git-evil');
    await mkdir(evil, { recursive: true });
    await writeFile(join(evil, 'Dockerfile'), 'FROM busybox\n');
    await g(evil, 'init', '-q');
    await g(evil, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', src, 'hostrepo');
    await g(evil, 'add', '-A');
    await g(evil, 'commit', '-qm', 'evil');
    await g(repos, 'clone', '-q', '--bare', evil, join(repos, 'evil.git'));

    const { base, stop } = await serveGitRepos(repos, 'app.git');
    try {
      const docker = new Docker({ socketPath: d.socket });
      const apiBuild = async (remote: string, extra: Record<string, string> = {}) => {
        const stream = await docker.buildImage(Readable.from([]), { remote, ...extra } as Docker.ImageBuildOptions).catch((err: Error) => err);
        if (stream instanceof Error) return { error: stream.message };
        const out = await new Promise<unknown[]>((res, rej) => docker.modem.followProgress(stream, (err: Error | null, r: unknown[]) => (err ? rej(err) : res(r))));
        const failed = out.find((m) => (m as { error?: string }).error) as { error?: string } | undefined;
        return failed ? { error: failed.error! } : {};
      };
      // Default ref (master), top-level Dockerfile.
      assert.deepEqual(await apiBuild(`${base}/app.git`, { t: 'git:master' }), {});
      assert.equal(await run('git:master', 'cat', '/top.txt'), 'from master\n');
      // A branch and a subdirectory as the context.
      assert.deepEqual(await apiBuild(`${base}/app.git#feature:sub`, { t: 'git:feature' }), {});
      assert.equal(await run('git:feature', 'cat', '/s.txt'), 'from feature\n');
      // wharf build clones on the client, as the Docker CLI does; -f is relative to the checkout.
      const w = await d.wharf(['build', '-t', 'git:cli', '-f', 'other.Dockerfile', `${base}/app.git#master:sub`], { timeoutMs: 120_000 });
      assert.equal(w.code, 0, w.stdout + w.stderr);
      assert.equal(await run('git:cli', 'cat', '/other.txt'), 'from sub\n');
      // Hostile input.
      assert.match((await apiBuild(`${base}/app.git#--upload-pack=touch /tmp/x:sub`)).error ?? '', /invalid refspec: --upload-pack=touch \/tmp\/x/);
      assert.match((await apiBuild(`${base}/app.git#master:escape`)).error ?? '', /error setting git context, "escape" not within git root/);
      assert.match((await apiBuild(`${base}/app.git#master:../..`)).error ?? '', /not within git root/);
      assert.match((await apiBuild(`${base}/evil.git`)).error ?? '', /error initializing submodules: .*(transport 'file' not allowed|not allowed)/s);
      assert.match((await apiBuild('ext::sh -c touch% /tmp/wharf-ext-pwned')).error ?? '', /remoteURL \(ext::sh -c touch% \/tmp\/wharf-ext-pwned\) could not be recognized as URL/);
      assert.equal(await readFile('/tmp/wharf-ext-pwned').then(() => true, () => false), false);
      // A plain ("dumb") HTTP server cannot serve a shallow fetch: the daemon asks for git's
      // smart advertisement first and fetches the whole history without it (moby's
      // supportsShallowClone). The repository has only a lower-case dockerfile.
      const lower = join(work, 'git-lower');
      await mkdir(lower, { recursive: true });
      await writeFile(join(lower, 'dockerfile'), 'FROM busybox\nRUN echo from-lower > /l\n');
      await g(lower, 'init', '-q');
      await g(lower, 'add', '-A');
      await g(lower, 'commit', '-qm', 'lower');
      await g(repos, 'clone', '-q', '--bare', lower, join(repos, 'lower.git'));
      await g(join(repos, 'lower.git'), 'update-server-info');
      const files = createServer((req, res) => {
        const path = join(repos, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
        readFile(path).then(
          (body) => res.end(body),
          () => res.writeHead(404).end(),
        );
      });
      await new Promise<void>((res) => files.listen(0, '127.0.0.1', res));
      try {
        const dumb = `http://127.0.0.1:${(files.address() as AddressInfo).port}/lower.git`;
        assert.deepEqual(await apiBuild(dumb, { t: 'git:dumb' }), {});
        assert.equal(await run('git:dumb', 'cat', '/l'), 'from-lower\n');
        assert.equal((await d.docker(['rmi', 'git:dumb'])).code, 0);
      } finally {
        files.close();
      }
      const cliBad = await d.wharf(['build', `${base}/nope.git`], { timeoutMs: 60_000 });
      assert.equal(cliBad.code, 1);
      assert.match(cliBad.stderr, /unable to prepare context: error fetching: /);
      // Nothing of the clones is left in the daemon's tmp.
      assert.deepEqual((await readdir(join(d.dataRoot, 'tmp'))).filter((n) => n.startsWith('docker-builder-git')), []);
      for (const t of ['git:master', 'git:feature', 'git:cli']) assert.equal((await d.docker(['rmi', t])).code, 0);
    } finally {
      stop();
    }
  });

  test('a missing base image is pulled with the credentials the Docker CLI sends (X-Registry-Config)', async () => {
    const storage = join(work, 'reg-storage');
    await mkdir(storage, { recursive: true });
    const anon = await startRegistry({ dir: work, storage });
    const htpasswd = join(work, 'htpasswd');
    execFileSync('sh', ['-c', `htpasswd -Bbn alice secret > ${htpasswd}`]);
    const basic = await startRegistry({ dir: work, storage, htpasswd });
    try {
      await publishImage(`http://${anon.host}`, 'private/base', 'latest', buildImage([await busyboxTar()], { cmd: ['sh'] }));
      const df = `FROM ${basic.host}/private/base\nRUN echo pulled-base > /p\n`;
      const denied = await build(['-'], { input: df });
      assert.equal(denied.code, 1, denied.stdout);
      assert.match(denied.stderr, /no basic auth credentials/);
      const login = await d.docker(['login', '-u', 'alice', '--password-stdin', basic.host], { input: 'secret\n' });
      assert.equal(login.code, 0, login.stderr);
      const r = await build(['-t', 'pulled:1', '-'], { input: df });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(await run('pulled:1', 'cat', '/p'), 'pulled-base\n');
    } finally {
      await d.docker(['logout', basic.host]);
      await Promise.all([anon.stop(), basic.stop()]);
    }
  });

  test("a COPY wildcard of a hostile size is compiled and matched off the daemon's thread", { timeout: 180_000 }, async () => {
    // `*a?` 300000 times: compiling it and matching it against every path of the context held the
    // daemon's one thread for seconds (about 40 s for a 3 MB line), no request answered meanwhile.
    // Continued over lines, as a Dockerfile line stops at 64 KiB.
    const pattern = Array.from({ length: 20 }, () => '*a?'.repeat(15_000)).join('\\\n');
    const files: Record<string, string> = { Dockerfile: `FROM busybox\nCOPY ${pattern} /x/\n` };
    for (let i = 0; i < 300; i++) files[`dir/f${i}`] = 'x';
    const dir = await context('huge-wildcard', files);
    const { r, slowest } = await pingedWhile(build(['-t', 'huge-wildcard', dir]));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /COPY failed: no source files were specified/);
    assert.ok(slowest < PING_BOUND_MS, `a ping took ${slowest} ms during the build`);
  });

  test('a Dockerfile of 1.7 million lines is parsed while the daemon answers', { timeout: 180_000 }, async () => {
    // 10 MiB of `RUN a` held the daemon's one thread about 9 s while it was parsed.
    const dir = await context('huge-dockerfile', { Dockerfile: `FROM busybox\n${'RUN a\n'.repeat(1_700_000)}` });
    const { r, slowest } = await pingedWhile(build(['-t', 'huge-dockerfile', dir]));
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /Step 2\/1700001 : RUN a/);
    assert.match(r.stderr, /The command '\/bin\/sh -c a' returned a non-zero code: 127/);
    assert.ok(slowest < PING_BOUND_MS, `a ping took ${slowest} ms during the build`);
  });

  test('a Dockerfile line of 64 KiB or more is refused as BuildKit refuses it', async () => {
    const fits = await context('line-fits', { Dockerfile: `FROM busybox\nLABEL a=${'b'.repeat(65535 - 'LABEL a='.length)}\n` });
    assert.equal((await build(['-q', fits])).code, 0);
    // A multi-byte character counts as its UTF-8 bytes.
    const long = await context('line-long', { Dockerfile: `FROM busybox\nLABEL a=${'é'.repeat(32764)}\n` });
    const r = await build([long]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dockerfile line greater than max allowed size of 65535/);
  });
});
