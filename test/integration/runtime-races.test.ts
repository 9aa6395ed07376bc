/**
 * Races inside the runtime's own calls, held open by a gated runc wrapper (the daemon's default
 * runtime here, gated-runtime.ts), so the test can make the container change under them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatedDaemon, type GatedRuntime } from './gated-runtime.js';
import { cliOk, countLeaks, socketRequest, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let gate: GatedRuntime;
let gated: Awaited<ReturnType<typeof startGatedDaemon>> | undefined;

before(async () => {
  gated = await startGatedDaemon('runtime-races');
  ({ d, gate } = gated);
});
after(() => gated?.cleanup());

const ok = (args: string[]): Promise<string> => cliOk(d, 'wharf', args);
const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();

test('a kill whose process exits (and starts again) while the runtime signals it: done, as Docker answers a task gone, not a 500', async () => {
  await ok(['run', '-d', '--name', 'kr', 'busybox', 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done']);
  const [merged, upper] = (await inspect('kr', '{{.GraphDriver.Data.MergedDir}} {{.GraphDriver.Data.UpperDir}}')).split(' ') as [string, string];
  await gate.close('kill');
  await gate.close('state');
  const kill = socketRequest(d.socket, 'POST', '/containers/kr/kill');
  await waitFor(() => gate.reached('kill'), { what: 'the kill to reach runc kill' });
  // The process ends by itself meanwhile and its exit is handled: runc no longer has the container.
  await writeFile(join(merged, 'tmp/go'), '');
  await waitFor(async () => (await inspect('kr', '{{.State.Status}}')) === 'exited', { what: 'the exit to be handled' });
  // Started again, it runs until killed.
  await rm(join(upper, 'tmp/go'));
  await gate.open('kill');
  // runc kill finds no container. Should the daemon then ask runc for the container's state, a
  // start comes first, so that runc has a container of that id again, running.
  const answered = kill.then(() => true);
  await waitFor(async () => gate.reached('state') || (await Promise.race([answered, Promise.resolve(false)])), {
    what: 'the kill to answer or ask for the state',
  });
  if (gate.reached('state')) {
    await ok(['start', 'kr']);
    await gate.open('state');
  }
  const r = await kill;
  assert.equal(r.status, 204, r.body);
  await gate.open('state');
  await ok(['rm', '-f', 'kr']);
  const leaks = await countLeaks(d);
  assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc }, { mounts: 0, conmon: 0, runc: 0 }, JSON.stringify(leaks.details));
});
