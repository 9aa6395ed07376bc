/**
 * runtime/stopped-delete.ts: runc delete's work for a container whose init is gone (its cgroups,
 * sub-cgroups first, then its state dir), and the refusals that leave the container to runc.
 * Real cgroups, real processes; state.json as runc writes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readProcStat, type InitProcess } from '../../src/runtime/init-signal.js';
import { deleteStopped } from '../../src/runtime/stopped-delete.js';

const CGROUP_ROOT = existsSync('/sys/fs/cgroup/pids') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';

/** A process that lives until its stdin closes; its identity as create records it. */
async function startInit() {
  const child = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
  await once(child, 'spawn');
  const st = await readProcStat(child.pid!);
  assert.ok(st);
  const init: InitProcess = { pid: child.pid!, startTime: st.startTime };
  const end = async () => {
    child.stdin!.end();
    if (child.exitCode === null) await once(child, 'exit');
  };
  return { child, init, end };
}

async function makeContainer(init: InitProcess, opts: { poststop?: boolean; sharedPid?: boolean } = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'stopped-delete-'));
  const cgroup = join(CGROUP_ROOT, `wharf-test-${randomBytes(6).toString('hex')}`);
  await mkdir(join(cgroup, 'made-inside', 'deeper'), { recursive: true });
  const state = {
    init_process_pid: init.pid,
    init_process_start: Number(init.startTime),
    cgroup_paths: { pids: cgroup },
    intel_rdt_path: '',
    config: {
      namespaces: [{ type: 'NEWNS', path: '' }, { type: 'NEWPID', path: opts.sharedPid ? '/proc/1/ns/pid' : '' }],
      hooks: opts.poststop ? { poststop: [{ path: '/bin/true' }] } : null,
      cgroups: { path: '/wharf/x' },
    },
  };
  await writeFile(join(stateDir, 'state.json'), JSON.stringify(state));
  const cleanup = async () => {
    for (const d of [join(cgroup, 'made-inside', 'deeper'), join(cgroup, 'made-inside'), cgroup]) await rmdir(d).catch(() => {});
    await rm(stateDir, { recursive: true, force: true });
  };
  return { stateDir, cgroup, cleanup };
}

test('an init still running, a shared pid namespace or a poststop hook is left to runc', async () => {
  const p = await startInit();
  const running = await makeContainer(p.init);
  const shared = await makeContainer(p.init, { sharedPid: true });
  const hooked = await makeContainer(p.init, { poststop: true });
  try {
    assert.equal(await deleteStopped(running.stateDir, p.init), false, 'init alive');
    assert.ok(existsSync(running.cgroup) && existsSync(join(running.stateDir, 'state.json')));
    await p.end();
    assert.equal(await deleteStopped(shared.stateDir, p.init), false, 'shared pid namespace');
    assert.equal(await deleteStopped(hooked.stateDir, p.init), false, 'poststop hook');
    assert.equal(await deleteStopped(running.stateDir, { ...p.init, startTime: '1' }), false, 'another init than recorded');
    for (const c of [shared, hooked]) assert.ok(existsSync(c.cgroup) && existsSync(join(c.stateDir, 'state.json')));
  } finally {
    await p.end();
    for (const c of [running, shared, hooked]) await c.cleanup();
  }
});

test('init gone: the cgroup with the sub-cgroups made inside and the state dir are removed; a busy cgroup is left to runc', async () => {
  const p = await startInit();
  const gone = await makeContainer(p.init);
  const busy = await makeContainer(p.init);
  const other = await startInit();
  try {
    await writeFile(join(busy.cgroup, 'made-inside', 'deeper', 'cgroup.procs'), String(other.init.pid));
    await p.end();
    assert.equal(await deleteStopped(gone.stateDir, p.init), true);
    assert.equal(existsSync(gone.cgroup), false);
    assert.equal(existsSync(gone.stateDir), false);
    assert.equal(await deleteStopped(busy.stateDir, p.init), false, 'a process still in a sub-cgroup');
    assert.ok(existsSync(join(busy.stateDir, 'state.json')), 'runc finds its state to finish the delete');
  } finally {
    await p.end();
    await other.end();
    await gone.cleanup();
    await busy.cleanup();
  }
});
