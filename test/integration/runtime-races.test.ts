/**
 * Races inside the runtime's own calls, held open by a gated runc wrapper (the daemon's default
 * runtime here): a call notes that it runs (`<gate>/<verb>-running`) and waits while
 * `<gate>/<verb>-closed` exists, so the test can make the container change under it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOk, countLeaks, loadBusybox, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;
let gate: string;

before(async () => {
  gate = `/tmp/wharf-runtime-gate-${process.pid}`;
  await mkdir(gate, { recursive: true });
  const wrapper = join(gate, 'gated-runc');
  // The subcommand is the first argument that is not an option or an option's value (--root <dir>, --log <file>…).
  await writeFile(
    wrapper,
    `#!/bin/sh
verb=
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in
    --*=*) ;;
    --root|--log|--log-format|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) verb=$a; break ;;
  esac
done
if [ -n "$verb" ] && [ -e "${gate}/$verb-closed" ]; then
  : > "${gate}/$verb-running"
  while [ -e "${gate}/$verb-closed" ]; do sleep 0.02; done
fi
exec runc "$@"
`,
  );
  await chmod(wrapper, 0o755);
  d = await startDaemon({ config: { 'default-runtime': 'gated', runtimes: { gated: { path: wrapper } } } });
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
  await rm(gate, { recursive: true, force: true });
});

const ok = (args: string[]): Promise<string> => cliOk(d, 'wharf', args);
const inspect = async (ref: string, fmt: string) => (await ok(['inspect', '-f', fmt, ref])).trim();
const close = (verb: string) => writeFile(join(gate, `${verb}-closed`), '');
const open = (verb: string) => rm(join(gate, `${verb}-closed`), { force: true });

test('a kill whose process exits (and starts again) while the runtime signals it: done, as Docker answers a task gone, not a 500', async () => {
  await ok(['run', '-d', '--name', 'kr', 'busybox', 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done']);
  const [merged, upper] = (await inspect('kr', '{{.GraphDriver.Data.MergedDir}} {{.GraphDriver.Data.UpperDir}}')).split(' ') as [string, string];
  await close('kill');
  await close('state');
  const kill = socketRequest(d.socket, 'POST', '/containers/kr/kill');
  await waitFor(() => existsSync(join(gate, 'kill-running')), { what: 'the kill to reach runc kill' });
  // The process ends by itself meanwhile and its exit is handled: runc no longer has the container.
  await writeFile(join(merged, 'tmp/go'), '');
  await waitFor(async () => (await inspect('kr', '{{.State.Status}}')) === 'exited', { what: 'the exit to be handled' });
  // Started again, it runs until killed.
  await rm(join(upper, 'tmp/go'));
  await open('kill');
  // runc kill finds no container. Should the daemon then ask runc for the container's state, a
  // start comes first, so that runc has a container of that id again, running.
  const answered = kill.then(() => true);
  await waitFor(async () => existsSync(join(gate, 'state-running')) || (await Promise.race([answered, Promise.resolve(false)])), {
    what: 'the kill to answer or ask for the state',
  });
  if (existsSync(join(gate, 'state-running'))) {
    await ok(['start', 'kr']);
    await open('state');
  }
  const r = await kill;
  assert.equal(r.status, 204, r.body);
  await open('state');
  await ok(['rm', '-f', 'kr']);
  const leaks = await countLeaks(d);
  assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc }, { mounts: 0, conmon: 0, runc: 0 }, JSON.stringify(leaks.details));
});
