/**
 * Files of a hostile image or container that the daemon itself walks or reads: nesting deep
 * enough that a walk holding a directory per level (or per level and ancestor) runs the daemon out
 * of file descriptors. The daemon runs with 1024 fds, so a walk that holds too many fails here rather than on a
 * host with a million. Each case must leave the daemon answering with Docker's result.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ping, startDaemon, loadBusybox, type Daemon } from './harness.js';
import { buildDockerArchive, buildTar, type TarEntrySpec } from '../fixtures/docker-archive.js';

let d: Daemon;

before(async () => {
  d = await startDaemon({ prefix: ['prlimit', '--nofile=1024:1024'] });
  await loadBusybox(d);
});

after(async () => {
  await d?.cleanup();
});

async function assertAlive(what: string): Promise<void> {
  assert.ok(await ping(d.socket), `${what}: /_ping does not answer\n${d.log().slice(-3000)}`);
  assert.doesNotMatch(d.log(), /BUG:|EMFILE/, `${what}: the daemon ran out of fds or an error escaped its request`);
}

test('COPY --from an image nested 80 directories deep, with a wildcard, holds one fd per level', async () => {
  // A wildcard lists every path of the source image; a walk that resolved each directory from
  // the root again, keeping every level's resolution open, held 80 * 81 / 2 fds at the bottom.
  const entries: TarEntrySpec[] = [{ name: 'a.txt', content: 'top\n' }];
  for (let i = 1, p = 'd'; i <= 80; i++, p += '/d') entries.push({ name: `${p}/`, type: 'directory' });
  entries.push({ name: `${'d/'.repeat(80)}bottom`, content: 'bottom\n' });
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
