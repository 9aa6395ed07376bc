import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { Socket } from 'node:net';
import { CommandError, run } from '../../../src/lib/run.js';
import { startWithPipes, useSpawnHelper } from '../../../src/lib/spawner.js';

assert.ok(useSpawnHelper(), 'the spawn helper is built (scripts/bundle-daemon.mjs)');

const helperPid = async () => Number((await run('sh', ['-c', 'echo $PPID'])).trim());

const readAll = (s: Socket) =>
  new Promise<string>((resolve) => {
    let t = '';
    s.on('data', (b: Buffer) => (t += b.toString()));
    s.on('end', () => resolve(t));
  });

test('spawn helper: tools run as children of the C helper, with run()’s results and errors', async () => {
  const ppid = await helperPid();
  assert.notEqual(ppid, process.pid, 'the tool was started by the helper, not by this process');
  assert.equal(basename(readlinkSync(`/proc/${ppid}/exe`)), 'wharf-spawn');
  assert.equal(Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(ppid)], { encoding: 'utf8' }).trim()), process.pid);
  assert.equal(await run('cat', [], { input: 'through stdin\n' }), 'through stdin\n');
  assert.equal(await run('pwd', [], { cwd: '/usr' }), '/usr\n');
  const failed = await run('sh', ['-c', 'echo oops >&2; exit 3']).catch((e: unknown) => e);
  assert.ok(failed instanceof CommandError);
  assert.equal(failed.code, 3);
  assert.equal(failed.stderr, 'oops\n');
  assert.equal(failed.message, 'sh -c echo oops >&2; exit 3: oops');
  const missing = await run('/nonexistent/tool', []).catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.equal(missing.message, '/nonexistent/tool: /nonexistent/tool is not installed');
  const badCwd = await run('true', [], { cwd: '/nonexistent-dir' }).catch((e: unknown) => e);
  assert.ok(badCwd instanceof CommandError);
  assert.equal(badCwd.code, null, 'a directory that is not there: not started');
  const killed = await run('sh', ['-c', 'kill -9 $$']).catch((e: unknown) => e);
  assert.ok(killed instanceof CommandError);
  assert.equal(killed.code, null, 'killed by a signal: no exit status');
});

test('spawn helper: large input and output pass whole, both ways at once', async () => {
  const out = await run('head', ['-c', String(4 << 20), '/dev/zero']);
  assert.equal(out.length, 4 << 20, 'large output arrives whole');
  // More than a pipe holds, echoed back while it is still being written.
  const input = Buffer.alloc(3 << 20, 'abcdefgh');
  assert.equal(await run('cat', [], { input }), input.toString());
  assert.equal(await run('wc', ['-c'], { input }), `${3 << 20}\n`);
  // A tool that exits without reading its input is not an error of the helper.
  assert.equal(await run('true', [], { input }), '');
});

test('spawn helper: a tool starts with default signals, nothing blocked and only its three descriptors', async () => {
  const status = await run('cat', ['/proc/self/status']);
  assert.match(status, /^SigBlk:\s+0+$/m, 'the helper blocks SIGCHLD; its tools must not');
  assert.match(status, /^SigIgn:\s+0+$/m, 'the helper ignores SIGPIPE; its tools must not');
  // ls itself opens /proc/self/fd as one more descriptor.
  const fds = (await run('ls', ['/proc/self/fd'])).split('\n').filter(Boolean).map(Number);
  assert.equal(fds.length, 4, `descriptors leaked into a tool: ${fds.join(' ')}`);
  assert.deepEqual(fds.slice(0, 3), [0, 1, 2]);
});

test('spawn helper: tools run side by side; a slow one holds up no other', async () => {
  const slow = run('sleep', ['30.1']);
  let slowDone = false;
  void slow.then(
    () => (slowDone = true),
    () => (slowDone = true),
  );
  const quick = await Promise.all(Array.from({ length: 20 }, (_, i) => run('echo', [String(i)])));
  assert.deepEqual(
    quick.map((s) => s.trim()),
    Array.from({ length: 20 }, (_, i) => String(i)),
  );
  assert.equal(slowDone, false, 'the quick tools finished while the slow one still ran');
  spawnSync('pkill', ['-f', '^sleep 30.1$']);
  const err = await slow.catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.code, null);
});

test('spawn helper: a NUL byte in an argument fails that call only, as Node words it', async () => {
  const before = await helperPid();
  const err = await run('mount', ['-o', 'size=1m\0', 'x']).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.match(err.message, /The argument 'args\[1\]' must be a string without null bytes/);
  const inCwd = await run('true', [], { cwd: '/tmp\0x' }).catch((e: unknown) => e);
  assert.ok(inCwd instanceof CommandError);
  assert.match(inCwd.message, /'options.cwd' must be a string without null bytes/);
  assert.equal(await helperPid(), before, 'the same helper goes on');
});

test('spawn helper: a long-lived process gets its pipes, read and written by the caller, and a session of its own', async () => {
  const script = 'echo "ppid $PPID" >&3; echo err-line >&2; read line <&4; echo "got $line" >&5; exec 3>&- 2>&- 5>&-; sleep 0.2';
  const { pid, pipes } = await startWithPipes('sh', ['-c', script], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    pipes: ['read', 'read', 'write', 'read'],
  });
  const [errOut, sync, start, attach] = pipes as [Socket, Socket, Socket, Socket];
  assert.equal(Number(execFileSync('ps', ['-o', 'sid=', '-p', String(pid)], { encoding: 'utf8' }).trim()), pid, 'a session leader');
  start.end('go\n');
  const [synced, stderr, attached] = await Promise.all([readAll(sync), readAll(errOut), readAll(attach)]);
  assert.equal(stderr, 'err-line\n');
  assert.equal(attached, 'got go\n');
  const ppid = Number(/^ppid (\d+)\n$/.exec(synced)?.[1]);
  assert.ok(ppid > 0 && ppid !== process.pid, `started by the helper (${ppid}), not by this process (${process.pid})`);
  // The helper released its ends: EOF came from the process closing its own.
  const held = execFileSync('ls', ['-l', `/proc/${ppid}/fd`], { encoding: 'utf8' });
  assert.doesNotMatch(held, /pipe:/, `the helper still holds pipe ends:\n${held}`);
  const missing = await startWithPipes('/nonexistent/conmon', [], { cwd: '/', env: {}, pipes: ['read', 'read'] }).catch((e: NodeJS.ErrnoException) => e);
  assert.ok(missing instanceof Error);
  assert.equal(missing.code, 'ENOENT');
  assert.equal(missing.message, 'spawn /nonexistent/conmon ENOENT');
});

test('spawn helper: when it dies, what was pending fails and the next tool gets a new helper', async () => {
  const before = await helperPid();
  const pending = run('sleep', ['31.7']);
  process.kill(before, 'SIGKILL');
  const err = await pending.catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.match(err.message, /^sleep 31.7: the spawn helper exited \(SIGKILL\)$/);
  const next = await helperPid();
  assert.notEqual(next, before);
  assert.notEqual(next, process.pid);
  // An orphaned sleep (if the helper got to start it) must not outlive the test.
  spawnSync('pkill', ['-f', '^sleep 31.7$']);
});
