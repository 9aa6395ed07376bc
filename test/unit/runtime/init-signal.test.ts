import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readProcStat, recordInit, signalDisposition, signalInit } from '../../../src/runtime/init-signal.js';

const OWN_PID_NS = [{ type: 'mount' }, { type: 'pid' }];

test('readProcStat: state and start time of a live process, undefined for none', async () => {
  const st = await readProcStat(process.pid);
  assert.ok(st);
  assert.match(st.startTime, /^[0-9]+$/);
  assert.match(st.state, /^[RS]$/);
  assert.equal(await readProcStat(0x3fffffff), undefined);
});

test('recordInit: only for a pid namespace of its own', async () => {
  assert.equal(await recordInit(process.pid, [{ type: 'mount' }]), undefined);
  assert.equal(await recordInit(process.pid, [{ type: 'pid', path: '/proc/1/ns/pid' }]), undefined);
  assert.equal(await recordInit(process.pid, undefined), undefined);
  assert.equal(await recordInit(0, OWN_PID_NS), undefined);
  const rec = await recordInit(process.pid, OWN_PID_NS);
  assert.deepEqual(rec, { pid: process.pid, startTime: (await readProcStat(process.pid))!.startTime });
});

test('signalInit: signals the recorded process, never another one with its pid', async () => {
  const child = spawn('sleep', ['100'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  try {
    const init = await recordInit(child.pid!, OWN_PID_NS);
    assert.ok(init);
    // A pid that now belongs to another process (another start time) is left alone.
    assert.equal(await signalInit({ pid: init.pid, startTime: String(Number(init.startTime) + 1) }, 9), false);
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
    assert.equal(await signalInit(init, 9), true);
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
    // Gone: nothing to signal, the caller asks runc.
    assert.equal(await signalInit(init, 9), false);
  } finally {
    child.kill('SIGKILL');
  }
});

test('signalDisposition: caught, ignored or left at the default, as the process set it; undefined once it is gone', async () => {
  // The shell says when its traps are set (its first output), and then waits on its stdin.
  const child = spawn('sh', ['-c', 'trap "" USR1; trap "exit 0" USR2; echo ready; read x'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  try {
    await once(child.stdout!, 'data');
    const init = await recordInit(child.pid!, OWN_PID_NS);
    assert.ok(init);
    assert.equal(await signalDisposition(init, 10), 'ignored');
    assert.equal(await signalDisposition(init, 12), 'caught');
    assert.equal(await signalDisposition(init, 15), 'default');
    // Another process with the pid (another start time) is not the init.
    assert.equal(await signalDisposition({ pid: init.pid, startTime: String(Number(init.startTime) + 1) }, 15), undefined);
    child.stdin!.end();
    await exited;
    assert.equal(await signalDisposition(init, 15), undefined);
  } finally {
    child.kill('SIGKILL');
  }
});
