/**
 * Files of a hostile image or container that the daemon itself walks or reads: nesting deep
 * enough that a walk holding a directory per level (or per level and ancestor) runs the daemon out
 * of file descriptors. The daemon runs with 4,096 fds, so a walk that holds more than one per level
 * fails here rather than only on a host with a million, while one bounded at MAX_TREE_DEPTH (2,048)
 * levels fits. And a container's /etc/hosts, grown to gigabytes by its process, read by the
 * daemon when it edits the file. Each case must leave the daemon answering with Docker's result.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertDaemonAlive, startDaemon, loadBusybox, waitFor, type Daemon } from './harness.js';
import { buildDockerArchive, buildTar, type TarEntrySpec } from '../fixtures/docker-archive.js';

let d: Daemon;

before(async () => {
  d = await startDaemon({ prefix: ['prlimit', '--nofile=4096:4096'] });
  await loadBusybox(d);
});

after(async () => {
  await d?.cleanup();
});

/** The daemon's peak resident memory so far, in bytes. */
async function peakRss(): Promise<number> {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${d.pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const assertAlive = (what: string) => assertDaemonAlive(d, what, { alsoNot: /EMFILE/ });

test('COPY --from an image nested 100 directories deep, with a wildcard, holds one fd per level', async () => {
  // A wildcard lists every path of the source image; a walk that resolved each directory from
  // the root again, keeping every level's resolution open, held 100 * 101 / 2 fds at the bottom.
  const entries: TarEntrySpec[] = [{ name: 'a.txt', content: 'top\n' }];
  for (let i = 1, p = 'd'; i <= 100; i++, p += '/d') entries.push({ name: `${p}/`, type: 'directory' });
  entries.push({ name: `${'d/'.repeat(100)}bottom`, content: 'bottom\n' });
  const { archive } = await buildDockerArchive({ layers: [await buildTar(entries)], repoTags: ['deep:latest'] });
  const file = join(d.root, 'deep.tar');
  await writeFile(file, archive);
  const load = await d.docker(['load', '-i', file], { timeoutMs: 60_000 });
  assert.equal(load.code, 0, load.stderr);

  const built = await d.docker(['build', '-q', '-t', 'from-deep', '-'], {
    input: 'FROM busybox\nCOPY --from=deep:latest /a* /out/\n',
    env: { DOCKER_BUILDKIT: '0' },
    timeoutMs: 120_000,
  });
  assert.equal(built.code, 0, built.stderr + d.log().slice(-2000));
  const out = await d.docker(['run', '--rm', 'from-deep', 'cat', '/out/a.txt']);
  assert.equal(out.stdout, 'top\n', out.stderr);
  await assertAlive('COPY --from a deep image');
});

test('docker diff of a container nesting 2,100 directories fails as Docker does, holding no fd per level', async () => {
  // 3 x 700 levels: each mkdir -p stays below PATH_MAX, the relative (physical) cd goes on from there.
  const script = 'p=d; i=1; while [ $i -lt 700 ]; do p=$p/d; i=$((i+1)); done; for n in 1 2 3; do mkdir -p $p && cd -P $p || exit 1; done';
  try {
    const run = await d.docker(['run', '--name', 'deep-diff', 'busybox', 'sh', '-c', script], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    const diff = await d.docker(['diff', 'deep-diff'], { timeoutMs: 60_000 });
    // Docker's walk of the layer (path strings) stops at PATH_MAX: lstat …: file name too long.
    assert.notEqual(diff.code, 0, `diff of 2,100 levels succeeded: ${diff.stdout.split('\n').length} lines`);
    assert.match(diff.stderr, /Error response from daemon: lstat d\/d\/d.*: file name too long/);
    await assertAlive('diff of a deep container');
  } finally {
    // The daemon removes the layer (rm -rf copes with the depth; the harness's cleanup would not).
    assert.equal((await d.docker(['rm', '-f', 'deep-diff'])).code, 0);
  }
});

test("removing a legacy link reads at most 1 MiB of the parent's /etc/hosts, which its process grew to 1.5 GB", async () => {
  assert.equal((await d.docker(['run', '-d', '--name', 'linked', 'busybox', 'sleep', '300'])).code, 0);
  const grow = 'dd if=/dev/zero of=/etc/hosts bs=1 count=0 seek=1500M 2>/dev/null; touch /grown; sleep 300';
  const parent = await d.docker(['run', '-d', '--name', 'linker', '--link', 'linked:al', 'busybox', 'sh', '-c', grow]);
  assert.equal(parent.code, 0, parent.stderr);
  await waitFor(async () => (await d.docker(['exec', 'linker', 'test', '-e', '/grown'])).code === 0, { timeoutMs: 30_000, what: 'the container to grow its hosts file' });
  const hostsPath = (await d.docker(['inspect', '-f', '{{.HostsPath}}', 'linker'])).stdout.trim();
  const before = await peakRss();
  const rm = await d.docker(['rm', '--link', '/linker/al']);
  assert.equal(rm.code, 0, rm.stderr);
  const grown = await peakRss() - before;
  assert.ok(grown < 256 * 1024 * 1024, `the daemon's peak memory grew by ${grown >> 20} MiB`);
  // A file past the bound is left as the container made it (as a connect leaves it).
  const fh = await open(hostsPath, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4096), 0, 4096, 0);
    assert.match(buffer.toString('utf8', 0, bytesRead), /\tal\b/);
  } finally {
    await fh.close();
  }
  assert.equal((await d.docker(['rm', '-f', 'linker', 'linked'])).code, 0);
  await assertAlive('a huge hosts file');
});

test("an image whose /etc/passwd is a device node: resolving -u never opens the host's device", async () => {
  // Major 60 has no driver: an open(2) of the node fails with ENXIO, so the answer shows whether the
  // daemon opened it. A real image could name the host's watchdog (10:130), armed by an open.
  const layer = await buildTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', type: 'character-device', devmajor: 60, devminor: 0, mode: 0o644 },
    { name: 'etc/group', content: 'root:x:0:\n' },
  ]);
  const { archive } = await buildDockerArchive({ layers: [layer], repoTags: ['dev-passwd:latest'] });
  const file = join(d.root, 'dev-passwd.tar');
  await writeFile(file, archive);
  const load = await d.docker(['load', '-i', file], { timeoutMs: 60_000 });
  assert.equal(load.code, 0, load.stderr);
  const r = await d.docker(['run', '--rm', '-u', 'nobody', 'dev-passwd', '/x']);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stderr, /ENXIO|no such device/);
  // A passwd that is not a regular file counts as missing.
  assert.match(r.stderr, /unable to find user nobody: no matching entries in passwd file/);
  await assertAlive('a device as /etc/passwd');
});

test("ADD of a device node from a build context copies the node: the daemon never opens the host's device", async () => {
  // A context from anywhere (a remote tarball) can hold nodes; ADD looks whether a source is an archive.
  const context = await buildTar([
    { name: 'Dockerfile', content: 'FROM busybox\nADD dev /x\n' },
    { name: 'dev', type: 'character-device', devmajor: 60, devminor: 0, mode: 0o644 },
  ]);
  const r = await d.docker(['build', '-q', '-t', 'dev-add', '-'], { input: context, env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const run = await d.docker(['run', '--rm', 'dev-add', 'sh', '-c', 'test -c /x && echo char']);
  assert.equal(run.stdout, 'char\n', run.stderr);
  assert.equal((await d.docker(['rmi', 'dev-add'])).code, 0);
  await assertAlive('ADD of a device node');
});
