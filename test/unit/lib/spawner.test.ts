import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { CommandError, run } from '../../../src/lib/run.js';
import { startWithPipes, useSpawnHelper } from '../../../src/lib/spawner.js';

useSpawnHelper();

test('spawn helper: tools run as its children, with run()’s results and errors', async () => {
  const ppid = Number((await run('sh', ['-c', 'echo $PPID'])).trim());
  assert.notEqual(ppid, process.pid, 'the tool was forked by the helper, not by this process');
  assert.equal(Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(ppid)], { encoding: 'utf8' }).trim()), process.pid);
  assert.equal(await run('cat', [], { input: 'through stdin\n' }), 'through stdin\n');
  assert.equal(await run('pwd', [], { cwd: '/usr' }), '/usr\n');
  const failed = await run('sh', ['-c', 'echo oops >&2; exit 3']).catch((e: unknown) => e);
  assert.ok(failed instanceof CommandError);
  assert.equal(failed.code, 3);
  assert.equal(failed.stderr, 'oops\n');
  assert.equal(failed.message, "sh -c echo oops >&2; exit 3: oops");
  const missing = await run('/nonexistent/tool', []).catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.equal(missing.message, '/nonexistent/tool: /nonexistent/tool is not installed');
  const out = await run('head', ['-c', String(4 << 20), '/dev/zero']);
  assert.equal(out.length, 4 << 20, 'large output arrives whole');
});

test('spawn helper: a long-lived process gets its pipes handed to the daemon, and is not its child', async () => {
  const { pid, pipes } = await startWithPipes('sh', ['-c', 'echo "ppid $PPID" >&3; echo err-line >&2; exec 3>&- 2>&-; sleep 0.2'], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    pipes: 2,
  });
  const [errOut, sync] = pipes as [NonNullable<(typeof pipes)[0]>, NonNullable<(typeof pipes)[0]>];
  const read = (s: typeof sync) =>
    new Promise<string>((resolve) => {
      let t = '';
      s.on('data', (b: Buffer) => (t += b.toString()));
      s.on('end', () => resolve(t));
    });
  const [synced, stderr] = await Promise.all([read(sync), read(errOut)]);
  assert.equal(stderr, 'err-line\n');
  const ppid = Number(/^ppid (\d+)\n$/.exec(synced)?.[1]);
  assert.ok(ppid > 0 && ppid !== process.pid, `started by the helper (${ppid}), not by this process (${process.pid})`);
  assert.ok(pid > 0);
  const missing = await startWithPipes('/nonexistent/conmon', [], { cwd: '/', env: {}, pipes: 2 }).catch((e: NodeJS.ErrnoException) => e);
  assert.ok(missing instanceof Error);
  assert.equal(missing.code, 'ENOENT');
});

test('spawn helper: when it dies, what was pending fails and the next tool gets a new helper', async () => {
  const helperPid = Number((await run('sh', ['-c', 'echo $PPID'])).trim());
  const pending = run('sleep', ['31.7']);
  process.kill(helperPid, 'SIGKILL');
  const err = await pending.catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.match(err.message, /^sleep 31.7: the spawn helper exited \(SIGKILL\)$/);
  const next = Number((await run('sh', ['-c', 'echo $PPID'])).trim());
  assert.notEqual(next, helperPid);
  assert.notEqual(next, process.pid);
  // An orphaned sleep (if the helper got to start it) must not outlive the test.
  spawnSync('pkill', ['-f', '^sleep 31.7$']);
});
