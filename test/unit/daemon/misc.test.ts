import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { isLinuxSignal, parseSignal } from '../../../src/lib/signals.js';
import { parseDetachKeys, pipeAttach } from '../../../src/daemon/attach-session.js';
import { ProcessGoneError, parsePsOutput, runTop } from '../../../src/daemon/containers/top.js';
import type { AttachStream } from '../../../src/runtime/runtime.js';

test('signals parse as Docker accepts them', () => {
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('sigterm'), 15);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('SIGRTMIN+1'), 35);
  assert.throws(() => parseSignal('NOPE'), /invalid signal: NOPE/);
  assert.throws(() => parseSignal('0'), /invalid signal: 0/);
  // moby/sys/signal takes any non-zero integer; whether Linux has it is asked apart.
  assert.equal(parseSignal('99'), 99);
  assert.equal(parseSignal('-5'), -5);
  assert.deepEqual([1, 31, 32, 33, 34, 64, 65, -5].map(isLinuxSignal), [true, true, false, false, true, true, false, false]);
});

test('detach keys parse as Docker does', () => {
  assert.deepEqual([...parseDetachKeys(undefined)], [16, 17]);
  assert.deepEqual([...parseDetachKeys('ctrl-a,x')], [1, 120]);
  assert.throws(() => parseDetachKeys('ctrl-'), /Invalid detach keys/);
  // moby/term's ToBytes: exact lower-case names, one byte, DEL; nothing trimmed.
  assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,ctrl-z,DEL, ')], [0, 27, 28, 29, 30, 31, 26, 127, 32]);
  for (const bad of ['ctrl-A,a', 'CTRL-a', ' ctrl-a', 'ctrl-p,', 'del', 'é', 'ctrl-1']) {
    assert.throws(() => parseDetachKeys(bad), (err: Error) => err.message === `Invalid detach keys (${bad}) provided`, bad);
  }
});

class FakeStream extends EventEmitter {
  stdin: Buffer[] = [];
  stdinClosed = false;
  closed = false;
  paused = false;
  writeStdin(b: Buffer): boolean {
    this.stdin.push(Buffer.from(b));
    return true;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  closeStdin() {
    this.stdinClosed = true;
  }
  close() {
    this.closed = true;
  }
  released: Buffer[] = [];
  release(b: Buffer) {
    this.released.push(b);
  }
}

test('attach: stdin passes through, detach keys end the session without closing stdin', async () => {
  const s = new FakeStream();
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const done = pipeAttach(s as unknown as AttachStream, { stdin, stdout, stderr: new PassThrough() }, {
    tty: true,
    stdinOnce: true,
    detachKeys: parseDetachKeys(undefined),
    wantStdout: true,
    wantStderr: true,
  });
  stdin.write(Buffer.from('ab\x10c'));
  stdin.write(Buffer.from('\x10'));
  stdin.write(Buffer.from('\x11'));
  await done;
  assert.equal(Buffer.concat(s.stdin).toString(), 'ab\x10c');
  assert.equal(s.stdinClosed, false);
  assert.equal(s.closed, true);
});

test('attach: output is routed per stream and stdin EOF closes stdin with StdinOnce', async () => {
  const s = new FakeStream();
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const done = pipeAttach(s as unknown as AttachStream, { stdin, stdout, stderr }, {
    tty: false,
    stdinOnce: true,
    detachKeys: parseDetachKeys(undefined),
    wantStdout: true,
    wantStderr: false,
  });
  s.emit('data', 'stdout', Buffer.from('out'));
  s.emit('data', 'stderr', Buffer.from('err'));
  stdin.end('hi');
  await new Promise((r) => setImmediate(r));
  assert.equal(s.stdinClosed, true);
  s.emit('end');
  await done;
  assert.equal(stdout.read()?.toString(), 'out');
  assert.equal(stderr.read(), null);
});

test('attach: a chunk is released once the writer is done with it, one nobody wants at once', async () => {
  const s = new FakeStream();
  // A client connection that has not taken the bytes yet: its write calls back when told.
  const pending: Array<() => void> = [];
  const stdout = new Writable({ highWaterMark: 1 << 20, write: (_c, _e, cb) => void pending.push(() => cb()) });
  const done = pipeAttach(s as unknown as AttachStream, { stdin: null, stdout, stderr: new PassThrough() }, {
    tty: false,
    stdinOnce: false,
    detachKeys: parseDetachKeys(undefined),
    wantStdout: true,
    wantStderr: false,
  });
  const out = Buffer.from('out');
  const err = Buffer.from('err');
  s.emit('data', 'stdout', out);
  s.emit('data', 'stderr', err);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.released, [err], 'the unwanted stderr chunk goes back at once, the stdout one is still being written');
  pending.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.released, [err, out]);
  s.emit('end');
  await done;
});

test('ps output is filtered to the container pids', () => {
  const out = 'UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 08:00 ? 00:00:00 sleep 100\nroot 11 1 0 08:00 ? 00:00:00 other thing\n';
  const top = parsePsOutput(out, new Set([10]));
  assert.deepEqual(top.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  assert.deepEqual(top.Processes, [['root', '10', '1', '0', '08:00', '?', '00:00:00', 'sleep 100']]);
});

test('top of a process that is gone is ProcessGoneError, which the route answers as not running', async () => {
  // Past pid_max (at most 2^22): no such process can exist.
  await assert.rejects(runTop(2 ** 22 + 7), ProcessGoneError);
});
