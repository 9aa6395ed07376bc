/**
 * Starting a created container as the runtime's start does: through runc's exec fifo
 * (exec-fifo.ts), then waiting for the exec (exec-wait.ts), against a stand-in init: a process
 * named as runc's init is, blocked opening the fifo for writing, that renames itself (as the exec
 * of the container's process does) a while after its byte is read. Start returns only once that
 * has happened, as Docker's slower start lets the process run before it answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThroughExecFifo } from '../../../src/runtime/exec-fifo.js';
import { untilRuncInitExeced } from '../../../src/runtime/exec-wait.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-exec-fifo-'));
});
after(() => rm(root, { recursive: true, force: true }));

const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'latin1').trim();

/** A stand-in init for container `id`: writes its byte once a reader opens the fifo, renames itself `execMs` later, then lives on. */
async function standInInit(id: string, execMs: number): Promise<{ pid: number; stop: () => void }> {
  await mkdir(join(root, id));
  execFileSync('mkfifo', [join(root, id, 'exec.fifo')]);
  const script = [
    "process.title = 'runc:[2:INIT]';",
    "const fs = require('fs');",
    'const fd = fs.openSync(process.argv[1], "w");',
    'fs.writeSync(fd, "0"); fs.closeSync(fd);',
    `setTimeout(() => { process.title = 'payload'; }, ${execMs});`,
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script, join(root, id, 'exec.fifo')], { stdio: 'ignore' });
  const pid = child.pid!;
  // Until the stand-in has named itself, it is not the init start waits on.
  for (let i = 0; comm(pid) !== 'runc:[2:INIT]'; i++) {
    if (i > 500) throw new Error('the stand-in init never named itself');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, stop: () => child.kill('SIGKILL') };
}

test('start returns once the init has exec\'d the container\'s process, not when it has only been let go', async () => {
  const init = await standInInit('slow-exec', 150);
  try {
    await startThroughExecFifo(root, 'slow-exec', init.pid);
    await untilRuncInitExeced(init.pid, 5_000);
    assert.equal(comm(init.pid), 'payload');
  } finally {
    init.stop();
  }
});

test('start waits no longer than its bound for an init that never execs', async () => {
  const init = await standInInit('never-exec', 60_000);
  try {
    await startThroughExecFifo(root, 'never-exec', init.pid);
    await untilRuncInitExeced(init.pid, 200);
    assert.equal(comm(init.pid), 'runc:[2:INIT]', 'start returned while the init had not exec\'d');
  } finally {
    init.stop();
  }
});
