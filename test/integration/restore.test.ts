/**
 * Restore at daemon start with several containers: wharfd answers /_ping before it has asked the
 * runtime about them (one `runc list`, held here by a gated runc wrapper), requests that depend on
 * the containers wait until the restore is done, and then the running ones keep running with their
 * pids and the ones that exited while the daemon was down are settled with their exit codes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatedDaemon, type GatedRuntime } from './gated-runtime.js';
import { cliOk, countLeaks, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let gate: GatedRuntime;
let gated: Awaited<ReturnType<typeof startGatedDaemon>> | undefined;

before(async () => {
  gated = await startGatedDaemon('restore');
  ({ d, gate } = gated);
});
after(() => gated?.cleanup());

const ok = (args: string[]): Promise<string> => cliOk(d, 'wharf', args);
const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();
const alive = (pid: number) => existsSync(`/proc/${pid}`);

test('restore keeps running containers, settles exited ones, and answers /_ping before it is done', async () => {
  const keep = ['keep1', 'keep2', 'keep3'];
  for (const name of keep) await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', `echo ${name}; exec sleep 1000`]);
  const dies = { dies3: 3, dies4: 4 };
  for (const [name, code] of Object.entries(dies)) {
    await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', `while [ ! -e /tmp/go ]; do sleep 0.05; done; exit ${code}`]);
  }
  assert.equal((await d.wharf(['run', '--name', 'done5', 'busybox', 'sh', '-c', 'exit 5'])).code, 5);
  const pids = new Map<string, number>();
  for (const name of [...keep, ...Object.keys(dies)]) pids.set(name, Number(await inspect(name, '{{.State.Pid}}')));
  const merged = await Promise.all(Object.keys(dies).map((name) => inspect(name, '{{.GraphDriver.Data.MergedDir}}')));

  await d.kill9();
  for (const dir of merged) await writeFile(join(dir, 'tmp/go'), '');
  await waitFor(() => Object.keys(dies).every((n) => !alive(pids.get(n)!)), { what: 'containers to exit while the daemon is down' });
  await gate.close('list');

  await d.restart(); // returns once /_ping answers
  const ps = d.wharf(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  await waitFor(() => gate.reached('list'), { what: 'restore to ask runc for the containers (one runc list)' });
  await gate.open('list');
  const listed = await ps;
  assert.equal(listed.code, 0, listed.stderr);
  const status = new Map(listed.stdout.trim().split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)] as const));
  for (const name of keep) assert.match(status.get(name) ?? '', /^Up /, `${name}: ${listed.stdout}`);
  for (const [name, code] of Object.entries(dies)) assert.match(status.get(name) ?? '', new RegExp(`^Exited \\(${code}\\) `), `${name}: ${listed.stdout}`);
  assert.match(status.get('done5') ?? '', /^Exited \(5\) /);

  for (const name of keep) {
    assert.equal(await inspect(name, '{{.State.Status}} {{.State.Pid}}'), `running ${pids.get(name)}`);
    assert.ok(alive(pids.get(name)!));
  }
  for (const [name, code] of Object.entries(dies)) assert.equal(await inspect(name, '{{.State.Status}} {{.State.ExitCode}}'), `exited ${code}`);
  assert.equal(await ok(['logs', 'keep2']), 'keep2\n');
  // Exits after the restore are seen.
  await ok(['kill', 'keep1']);
  assert.equal((await ok(['wait', 'keep1'])).trim(), '137');

  await ok(['rm', '-f', ...keep, ...Object.keys(dies), 'done5']);
  const leaks = await countLeaks(d);
  assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc, cgroups: leaks.cgroups }, { mounts: 0, conmon: 0, runc: 0, cgroups: 0 }, JSON.stringify(leaks.details));
});
