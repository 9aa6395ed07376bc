/**
 * ConmonRuntime against real conmon + runc, with a busybox rootfs built from busybox-static.
 * Run as root: node --test dist/test/integration/runtime.test.js
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConmonRuntime } from '../../src/runtime/conmon.js';
import { RuntimeStartError, type AttachStream, type ExecProcess, type ExitInfo } from '../../src/runtime/runtime.js';
import { buildSpec, detectCgroupVersion, findInitBinary } from '../../src/runtime/spec.js';
import { resolveUser } from '../../src/runtime/user.js';
import { waitFor } from './harness.js';
import type { HostConfig } from '../../src/api/types.js';
import type { OciSpec } from '../../src/runtime/oci-spec.js';
import { makeBusyboxRootfs } from './runtime-rootfs.js';

const CGROUP_FS = '/sys/fs/cgroup';

describe('ConmonRuntime (conmon + runc)', { concurrency: false }, () => {
  let dir: string;
  let rootfs: string;
  let runtime: ConmonRuntime;
  let stateRoot: string;
  let execRoot: string;
  let cgroupVersion: '1' | '2';
  const exits = new Map<string, ExitInfo>();
  const exitWaiters = new Map<string, (e: ExitInfo) => void>();
  const ids: string[] = [];
  let seq = 0;
  const realRunc = execFileSync('sh', ['-c', 'command -v runc']).toString().trim();

  function newId(): string {
    const id = `wharfrt${process.pid}x${Date.now().toString(36)}x${seq++}`;
    ids.push(id);
    return id;
  }

  function waitExit(id: string): Promise<ExitInfo> {
    const seen = exits.get(id);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => exitWaiters.set(id, resolve));
  }

  async function create(
    id: string,
    args: string[],
    opts: { tty?: boolean; openStdin?: boolean; stdinOnce?: boolean; hostConfig?: HostConfig; user?: string; init?: boolean } = {},
  ) {
    const user = await resolveUser(rootfs, opts.user);
    const hostConfig = opts.hostConfig ?? {};
    const spec = buildSpec({
      id,
      rootfs,
      config: { Tty: !!opts.tty },
      hostConfig,
      args,
      env: ['PATH=/bin', `HOME=${user.home}`],
      cwd: '/',
      hostname: id.slice(0, 12),
      user,
      network: { kind: 'new' },
      cgroupParent: `/wharf-test-${process.pid}`,
      cgroupVersion,
      initPath: opts.init ? await findInitBinary() : undefined,
    });
    return runtime.create({
      id,
      bundleDir: join(execRoot, 'bundles', id),
      spec,
      tty: !!opts.tty,
      openStdin: !!opts.openStdin,
      stdinOnce: !!opts.stdinOnce,
      logPath: join(dir, `${id}.log`),
    });
  }

  function collect(stream: AttachStream): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    return new Promise((resolve) => {
      stream.on('data', (s, chunk) => {
        if (s === 'stdout') stdout += chunk.toString();
        else stderr += chunk.toString();
      });
      stream.on('end', () => resolve({ stdout, stderr }));
    });
  }

  /** The conmon of a container's or exec's process: its parent (conmon is their subreaper). */
  const conmonOf = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

  /** `sleep 100` run in container `id` with its process settings, with a tty if asked. */
  async function sleepExec(id: string, name: string, tty = false): Promise<ExecProcess> {
    const spec = JSON.parse(await readFile(join(execRoot, 'bundles', id, 'config.json'), 'utf8')) as OciSpec;
    return runtime.exec({ id, execId: `${id.slice(0, 12)}-${name}`, process: { ...spec.process, args: ['sleep', '100'], terminal: tty }, openStdin: false, attach: tty });
  }

  /** Kills an exec and its container, and deletes the container. */
  async function endWithExec(id: string, exec: ExecProcess): Promise<void> {
    exec.kill('SIGKILL');
    await exec.exited;
    await runtime.kill(id, 'KILL');
    await waitExit(id);
    await runtime.delete(id);
  }

  async function runToExit(args: string[], opts: Parameters<typeof create>[2] = {}) {
    const id = newId();
    await create(id, args, opts);
    const stream = await runtime.attach(id);
    const out = collect(stream);
    await runtime.start(id);
    const exit = await waitExit(id);
    const io = await out;
    await runtime.delete(id);
    return { id, exit, ...io };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-rt-'));
    rootfs = await makeBusyboxRootfs(dir);
    stateRoot = join(dir, 'runc');
    execRoot = join(dir, 'exec');
    cgroupVersion = await detectCgroupVersion();
    runtime = new ConmonRuntime({ stateRoot, execRoot });
    runtime.watchExits((e) => {
      exits.set(e.id, e);
      exitWaiters.get(e.id)?.(e);
    });
  });

  after(async () => {
    for (const id of ids) await runtime.delete(id, true).catch(() => {});
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
    // runc removes a container's cgroup but not the parent it made for it (cgroupParent), one in
    // each hierarchy.
    const hierarchies = cgroupVersion === '2' ? [CGROUP_FS] : (await readdir(CGROUP_FS)).map((h) => join(CGROUP_FS, h));
    for (const h of hierarchies) await rmdir(join(h, `wharf-test-${process.pid}`)).catch(() => {});
  });

  test('echo hello: output on stdout (stream byte 2), exit 0 via watchExits and exitInfo', async () => {
    const id = newId();
    const { pid } = await create(id, ['echo', 'hello']);
    assert.ok(pid > 0);
    assert.equal((await runtime.state(id))?.status, 'created');
    // conmon detached itself: it is not this process's child, so it outlives the daemon.
    const conmonPid = Number(await readFile(join(execRoot, 'conmon', `${id}.pid`), 'utf8'));
    const ppid = Number((await readFile(`/proc/${conmonPid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[1]);
    assert.notEqual(ppid, process.pid);
    const stream = await runtime.attach(id);
    const out = collect(stream);
    await runtime.start(id);
    const exit = await waitExit(id);
    assert.equal(exit.exitCode, 0);
    const io = await out;
    assert.equal(io.stdout, 'hello\n');
    assert.equal(io.stderr, '');
    const info = await runtime.exitInfo(id);
    assert.equal(info?.exitCode, 0);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(info!.finishedAt <= nowNs && info!.finishedAt > nowNs - 60_000_000_000n);
    const log = await readFile(join(dir, `${id}.log`), 'utf8');
    assert.match(log, /^\S+ stdout F hello$/m);
    await runtime.delete(id);
    assert.equal(await runtime.exitInfo(id), undefined);
  });

  test('exit code 3 and stderr on stream 3', async () => {
    const r = await runToExit(['sh', '-c', 'echo oops >&2; exit 3']);
    assert.equal(r.exit.exitCode, 3);
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.stdout, '');
  });

  test('stdin piped to cat, then EOF ends it', async () => {
    const id = newId();
    await create(id, ['cat'], { openStdin: true, stdinOnce: true });
    const stream = await runtime.attach(id);
    const out = collect(stream);
    await runtime.start(id);
    stream.writeStdin(Buffer.from('hi\n'));
    const big = Buffer.alloc(100_000, 'x');
    stream.writeStdin(big);
    stream.closeStdin();
    const exit = await waitExit(id);
    assert.equal(exit.exitCode, 0);
    const io = await out;
    assert.equal(io.stdout, 'hi\n' + big.toString());
    await runtime.delete(id);
  });

  test('tty container echoes input; resize applies to the pty', async () => {
    const id = newId();
    // The size is on the tty when resize returns: the input sent after it finds it there.
    const script = 'read line; stty size; echo got:$line';
    await create(id, ['sh', '-c', script], {
      tty: true,
      openStdin: true,
      stdinOnce: true,
    });
    const stream = await runtime.attach(id);
    const out = collect(stream);
    await runtime.start(id);
    await runtime.resize(id, 33, 111);
    stream.writeStdin(Buffer.from('abc\r'));
    const exit = await waitExit(id);
    const io = await out;
    assert.equal(exit.exitCode, 0);
    assert.match(io.stdout, /abc/); // echoed by the tty
    assert.match(io.stdout, /33 111/);
    assert.match(io.stdout, /got:abc/);
    assert.equal(io.stderr, '');
    await runtime.delete(id);
  });

  test('a resize of a container or exec tty is set when it returns, without conmon turning its loop', async () => {
    // conmon is stopped: a size it would apply later (its ctl fifo) is not on the tty when the
    // resize returns; one set on the master it holds is, as Docker's shim sets it.
    const id = newId();
    const { pid } = await create(id, ['sleep', '100'], { tty: true });
    await runtime.start(id);
    const sizeOf = (p: number) => execFileSync('stty', ['-F', `/proc/${p}/fd/0`, 'size'], { encoding: 'utf8' }).trim();
    const held = async <T>(conmon: number, fn: () => Promise<T>): Promise<T> => {
      process.kill(conmon, 'SIGSTOP');
      try {
        return await fn();
      } finally {
        process.kill(conmon, 'SIGCONT');
      }
    };
    const stopped = await held(conmonOf(pid), async () => {
      await runtime.resize(id, 41, 97);
      return sizeOf(pid);
    });
    assert.equal(stopped, '41 97');

    const exec = await sleepExec(id, 'tty', true);
    const execStopped = await held(conmonOf(exec.pid), async () => {
      await exec.resize(29, 131);
      return sizeOf(exec.pid);
    });
    assert.equal(execStopped, '29 131');
    // Docker's shim truncates the API's 32-bit sizes to the kernel's 16.
    await exec.resize(65536 + 12, 65536 + 34);
    assert.equal(sizeOf(exec.pid), '12 34');
    await endWithExec(id, exec);
  });

  test('a resize after the container exited is a conflict, as Docker answers for a task that is gone', async () => {
    const id = newId();
    await create(id, ['true']);
    await runtime.start(id);
    await waitExit(id);
    await assert.rejects(runtime.resize(id, 10, 10), (e: Error & { kind?: string }) => e.kind === 'Conflict' && e.message === `container ${id} is not running`);
    await runtime.delete(id);
  });

  test('a resize once the exit is recorded is a conflict too, while conmon is still finishing', async () => {
    const id = newId();
    await create(id, ['sleep', '100']);
    await runtime.start(id);
    await runtime.resize(id, 10, 10);
    // What conmon writes first when the process ends; it goes on holding its ctl fifo for a moment.
    await writeFile(join(execRoot, 'exits', id), '0');
    await assert.rejects(runtime.resize(id, 10, 10), (e: Error & { kind?: string }) => e.kind === 'Conflict' && e.message === `container ${id} is not running`);
    exits.delete(id);
    await runtime.kill(id, 'SIGKILL');
    await waitFor(async () => (await runtime.state(id))?.status === 'stopped', { what: 'the container to stop' });
    await runtime.delete(id);
  });

  test('conmon runs runc from the sealed copy the daemon holds, for a create and an exec', async () => {
    const id = newId();
    const { pid } = await create(id, ['sleep', '100']);
    await runtime.start(id);
    const runtimeOf = (p: number) => {
      const args = readFileSync(`/proc/${conmonOf(p)}/cmdline`, 'utf8').split('\0');
      return args[args.indexOf('-r') + 1]!;
    };
    const sealed = runtimeOf(pid);
    assert.match(sealed, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.ok(readFileSync(sealed).equals(readFileSync(realRunc)));
    const exec = await sleepExec(id, 'sealed');
    assert.equal(runtimeOf(exec.pid), sealed);
    await endWithExec(id, exec);
  });

  test('kill SIGKILL of sleep gives 137; state/list see it running first', async () => {
    const id = newId();
    const { pid } = await create(id, ['sleep', '100']);
    await runtime.start(id);
    const st = await runtime.state(id);
    assert.deepEqual(st, { id, status: 'running', pid });
    const listed = await runtime.list();
    assert.ok(listed.some((s) => s.id === id && s.status === 'running'));
    await runtime.kill(id, 'SIGKILL');
    const exit = await waitExit(id);
    assert.equal(exit.exitCode, 137);
    await runtime.delete(id);
    assert.equal(await runtime.state(id), undefined);
  });

  test('kill by number; TERM reaches sleep through --init; pause/resume', async () => {
    const id = newId();
    await create(id, ['sleep', '100']);
    await runtime.start(id);
    await runtime.pause(id);
    assert.equal((await runtime.state(id))?.status, 'paused');
    await runtime.resume(id);
    assert.equal((await runtime.state(id))?.status, 'running');
    await runtime.kill(id, 9);
    assert.equal((await waitExit(id)).exitCode, 137);
    await runtime.delete(id);

    // As PID 1, sleep would ignore SIGTERM; the init forwards it and reports the signal.
    const id2 = newId();
    await create(id2, ['sleep', '100'], { init: true });
    await runtime.start(id2);
    // A TERM that arrives before tini has set up its signal handling reaches a PID 1 without a
    // handler and is lost (Docker's --init has the same window): it is sent again until the
    // container exits. Without the init, sleep as PID 1 ignores every TERM and this never ends.
    const exited = waitExit(id2);
    await waitFor(
      async () => {
        await runtime.kill(id2, 'TERM').catch(() => {});
        return Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 500, undefined))]);
      },
      { what: 'sleep ended by TERM through the init' },
    );
    assert.equal((await waitExit(id2)).exitCode, 143);
    await runtime.delete(id2);
  });

  test('SIGKILL goes to the init itself, without runc; runc for other signals, once it is gone, and for a shared pid namespace', async () => {
    // A runc that logs its subcommands: the runtime must still see it as plain runc.
    const bin = join(dir, 'logging-bin');
    const log = join(dir, 'runc-calls.log');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'runc'), `#!/bin/sh\necho "$*" >> ${log}\nexec ${realRunc} "$@"\n`, { mode: 0o755 });
    const logged = new ConmonRuntime({ stateRoot, execRoot, runtimePath: join(bin, 'runc') });
    const kills = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => / kill /.test(` ${l} `));
    try {
      const id = newId();
      const spec = (hostConfig: HostConfig) =>
        buildSpec({ id, rootfs, config: {}, hostConfig, args: ['sleep', '100'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: { kind: 'new' }, cgroupParent: `/wharf-test-${process.pid}`, cgroupVersion });
      const opts = { bundleDir: join(execRoot, 'bundles', id), tty: false, openStdin: false, stdinOnce: false, logPath: join(dir, `${id}.log`) };
      await logged.create({ id, spec: spec({}), ...opts });
      await logged.start(id);
      // Signals other than SIGKILL go through runc (harmless CONT here).
      assert.equal(await logged.kill(id, 'CONT'), true);
      assert.equal((await kills()).length, 1);
      await logged.kill(id, 'KILL');
      assert.equal((await waitExit(id)).exitCode, 137);
      assert.equal((await kills()).length, 1);
      // The init is gone: runc is asked, and its refusal means the process is gone (false).
      assert.equal(await logged.kill(id, 'KILL'), false);
      assert.equal((await kills()).length, 2);
      await logged.delete(id);
      // So does a container runc no longer has.
      assert.equal(await logged.kill(id, 'TERM'), false);
      assert.equal((await kills()).length, 3);

      const id2 = newId();
      const opts2 = { ...opts, bundleDir: join(execRoot, 'bundles', id2), logPath: join(dir, `${id2}.log`) };
      await logged.create({ id: id2, spec: spec({ PidMode: 'host' }), ...opts2 });
      await logged.start(id2);
      await logged.kill(id2, 'KILL');
      assert.equal((await waitExit(id2)).exitCode, 137);
      assert.equal((await kills()).length, 4);
      await logged.delete(id2);
    } finally {
      await logged.close();
    }
  });

  test('a create or exec conmon never reports on ends at the timeout, with nothing of conmon or its runtime left', async () => {
    // A runtime that hangs in the subcommand named by a flag file, as runc did when blocked on an
    // error write that conmon reads only after runc exits. The runtime's own process becomes a
    // sleep through a link named <marker>, so that ps tells it from any other and no child of it
    // can outlive the test.
    const bin = join(dir, 'hanging-bin');
    await mkdir(bin, { recursive: true });
    const marker = `hang-${process.pid}`;
    await symlink(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), join(bin, marker));
    const hang = (sub: string) => `*" ${sub} "*) [ -e ${join(bin, sub)} ] && exec ${join(bin, marker)} 300;;`;
    await writeFile(join(bin, 'runc'), `#!/bin/sh\ncase " $* " in ${hang('create')} ${hang('exec')} esac\nexec ${realRunc} "$@"\n`, { mode: 0o755 });
    const hanging = new ConmonRuntime({ stateRoot, execRoot, runtimePath: join(bin, 'runc'), createTimeoutMs: 1500 });
    const left = (id: string) =>
      execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(marker) || (l.includes('conmon') && l.includes(id)));
    try {
      const id = newId();
      const spec = (args: string[]) =>
        buildSpec({ id, rootfs, config: {}, hostConfig: {}, args, env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, network: { kind: 'new' }, cgroupParent: `/wharf-test-${process.pid}`, cgroupVersion });
      const opts = { id, bundleDir: join(execRoot, 'bundles', id), tty: false, openStdin: false, stdinOnce: false, logPath: join(dir, `${id}.log`) };
      await writeFile(join(bin, 'create'), '');
      await assert.rejects(hanging.create({ ...opts, spec: spec(['true']) }), /timeout waiting for conmon to create the container/);
      await waitFor(() => left(id).length === 0, { what: `the create's conmon and runtime to be gone: ${left(id).join('; ')}`, timeoutMs: 5000 });
      await assert.rejects(readdir(opts.bundleDir));
      await rm(join(bin, 'create'));

      await hanging.create({ ...opts, spec: spec(['sleep', '100']) });
      await hanging.start(id);
      await writeFile(join(bin, 'exec'), '');
      const execId = `${id.slice(0, 12)}-exec`;
      const execProcess = { ...spec(['true']).process, args: ['true'] };
      await assert.rejects(hanging.exec({ id, execId, process: execProcess, openStdin: false, attach: false }), /timeout waiting for conmon to start the exec process/);
      await waitFor(() => left(execId).length === 0, { what: `the exec's conmon and runtime to be gone: ${left(execId).join('; ')}`, timeoutMs: 5000 });
      await hanging.kill(id, 'KILL');
      await hanging.delete(id, true);
    } finally {
      await hanging.close();
    }
  });

  test('missing command: create throws RuntimeStartError and leaves nothing behind', async () => {
    const id = newId();
    await assert.rejects(create(id, ['nosuchcmd']), (err: Error) => {
      assert.ok(err instanceof RuntimeStartError, String(err));
      assert.match(err.message, /exec: "nosuchcmd": executable file not found in \$PATH/);
      return true;
    });
    assert.equal(await runtime.state(id), undefined);
    await assert.rejects(readdir(join(execRoot, 'bundles', id)));
    assert.ok(!(await readdir(join(execRoot, 'conmon'))).some((f) => f.startsWith(id)));
    assert.ok(!(await readdir(join(execRoot, 'sockets')).catch(() => [] as string[])).includes(id));
  });

  test('user, groups, --init, read-only rootfs and tmpfs are applied', async () => {
    const r = await runToExit(['sh', '-c', 'id; ps -o pid,comm | grep -c docker-init; touch /x 2>&1; touch /run/ok && echo tmpfs-ok'], {
      user: 'nobody',
      init: true,
      hostConfig: { ReadonlyRootfs: true, Tmpfs: { '/run': 'size=1m' } },
    });
    assert.equal(r.exit.exitCode, 0, r.stderr);
    assert.match(r.stdout, /uid=65534\(nobody\) gid=65534\(nogroup\) groups=50\(staff\),65534\(nogroup\)\n/);
    assert.match(r.stdout, /^1$/m);
    assert.match(r.stdout, /Read-only file system/);
    assert.match(r.stdout, /tmpfs-ok/);
  });

  test('privileged container runs with all capabilities', async () => {
    const r = await runToExit(['sh', '-c', 'grep CapEff /proc/self/status'], { hostConfig: { Privileged: true } });
    assert.equal(r.exit.exitCode, 0, r.stderr);
    const own = /CapBnd:\s+([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))![1];
    assert.match(r.stdout, new RegExp(`CapEff:\\s+${own}`));
  });

  test('default: Docker capability set and seccomp filter; seccomp=unconfined drops the filter', async () => {
    const r = await runToExit(['sh', '-c', 'grep -E "CapEff|Seccomp:" /proc/self/status']);
    assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
    assert.match(r.stdout, /Seccomp:\s+2/);
    const u = await runToExit(['sh', '-c', 'grep -E "Seccomp:" /proc/self/status'], {
      hostConfig: { SecurityOpt: ['seccomp=unconfined'], CapAdd: ['sys_admin'] },
    });
    assert.match(u.stdout, /Seccomp:\s+0/);
    // With CAP_SYS_ADMIN the default profile opens unshare; without it the call is refused.
    const a = await runToExit(['sh', '-c', 'busybox unshare -u true; echo rc=$?'], { hostConfig: { CapAdd: ['SYS_ADMIN'] } });
    assert.match(a.stdout, /rc=0/);
    const d = await runToExit(['sh', '-c', 'busybox unshare -u true 2>/dev/null; echo rc=$?']);
    assert.match(d.stdout, /rc=[1-9]/);
  });

  test('a second runtime instance (daemon restart) sees the container and still gets its exit', async () => {
    const id = newId();
    await create(id, ['sh', '-c', 'read x; exit 7'], { openStdin: true, stdinOnce: true });
    await runtime.start(id);
    const second = new ConmonRuntime({ stateRoot, execRoot });
    try {
      assert.equal((await second.state(id))?.status, 'running');
      const got = new Promise<ExitInfo>((resolve) =>
        second.watchExits((e) => {
          if (e.id === id) resolve(e);
        }),
      );
      const stream = await second.attach(id);
      stream.writeStdin(Buffer.from('go\n'));
      const exit = await got;
      assert.equal(exit.exitCode, 7);
      assert.equal((await second.exitInfo(id))?.exitCode, 7);
      await second.delete(id);
    } finally {
      await second.close();
    }
  });

  test('nothing left behind: runc list empty, no conmon for our ids', async () => {
    for (const id of ids) await runtime.delete(id, true).catch(() => {});
    assert.deepEqual(await runtime.list(), []);
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    for (const id of ids) assert.ok(!ps.includes(id), `process left for ${id}`);
    assert.deepEqual(await readdir(join(execRoot, 'exits')), []);
    assert.deepEqual(await readdir(join(execRoot, 'sockets')).catch(() => [] as string[]), []);
    assert.deepEqual(await readdir(join(execRoot, 'conmon')), []);
  });
});
