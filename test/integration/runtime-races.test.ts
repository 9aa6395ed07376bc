/**
 * Races around the runtime's calls, held open by a gated runc wrapper (the daemon's default
 * runtime here, gated-runtime.ts): the test changes the container under a call, or queues
 * requests behind a start that holds the container's lock.
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
  // debug: the daemon logs each request as it takes it ("Calling …"), which tells when requests are queued.
  gated = await startGatedDaemon('runtime-races', { debug: true });
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
  let answered = false;
  void kill.then(() => (answered = true));
  await waitFor(() => gate.reached('state') || answered, { what: 'the kill to answer or ask for the state' });
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

test('two renames to the same name queued behind a start: one renames, the other is told it is the current name, and the container keeps it', async () => {
  const c = await socketRequest(d.socket, 'POST', '/containers/create?name=twice', { body: { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } } });
  assert.equal(c.status, 201, c.body);
  const { Id } = JSON.parse(c.body) as { Id: string };
  // The start holds the container's lock while runc create waits at the gate: both renames are
  // taken (and wait for the lock) while the container still has its first name.
  await gate.close('create');
  const start = socketRequest(d.socket, 'POST', `/containers/${Id}/start`);
  await waitFor(() => gate.reached('create'), { what: 'the start to reach runc create' });
  const path = `/containers/${Id}/rename?name=twice-new`;
  const renames = [0, 1].map(() => socketRequest(d.socket, 'POST', path));
  await waitFor(() => d.log().split(`Calling POST ${path}`).length - 1 === 2, { what: 'both renames to be taken' });
  await gate.open('create');
  assert.equal((await start).status, 204);
  const answers = await Promise.all(renames);
  assert.deepEqual(answers.map((a) => a.status).sort(), [204, 400], answers.map((a) => a.body).join(' '));
  assert.match(answers.find((a) => a.status === 400)!.body, /Renaming a container with the same name as its current name/);
  for (const ref of [Id, 'twice-new']) assert.equal((await socketRequest(d.socket, 'GET', `/containers/${ref}/json`)).status, 200, `inspect ${ref}`);
  assert.equal((await socketRequest(d.socket, 'DELETE', `/containers/${Id}?force=1`)).status, 204);
});

test('a stop whose thaw of a paused container fails leaves it paused while it waits, as runc still has it frozen', async () => {
  await ok(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '1000']);
  await ok(['pause', 'frozen']);
  await gate.fail('resume', true);
  try {
    // SIGTERM (runc's kill thaws only for SIGKILL), then the thaw, refused: the stop waits 3 s.
    const stop = socketRequest(d.socket, 'POST', '/containers/frozen/stop?t=3');
    // Its failure logged: what follows it (the state asked, or the record marked unpaused) is done before inspect is taken.
    const id = await inspect('frozen', '{{.Id}}');
    await waitFor(() => gate.reached('resume') && d.log().includes(`resume ${id}:`), { what: 'the stop to try the thaw' });
    assert.equal(await inspect('frozen', '{{.State.Status}} {{.State.Paused}}'), 'paused true');
    // Then SIGKILL through runc, which thaws the cgroup itself.
    const r = await stop;
    assert.equal(r.status, 204, r.body);
  } finally {
    await gate.fail('resume', false);
  }
  assert.equal(await inspect('frozen', '{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}'), 'exited false 137');
  await ok(['rm', 'frozen']);
});

test("a kill the runtime refuses names the container, as moby's kill route wraps every error", async () => {
  await ok(['run', '-d', '--name', 'refused', 'busybox', 'sleep', '1000']);
  await gate.fail('kill', true);
  try {
    const r = await socketRequest(d.socket, 'POST', '/containers/refused/kill?signal=USR1');
    assert.deepEqual([r.status, (JSON.parse(r.body) as { message: string }).message], [500, 'cannot kill container: refused: kill refused by the test']);
  } finally {
    await gate.fail('kill', false);
  }
  await ok(['rm', '-f', 'refused']);
});
