/**
 * The backbone through the `wharf` CLI against a real wharfd with real conmon, runc and
 * overlay mounts: run and its exit codes, streams, stdin, users, env, the runtime flags.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { countLeaks, loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const run = (args: string[], input?: string) => d.wharf(['run', '--rm', ...args], { input });

describe('run', () => {
  test('prints the output and exits 0, leaving nothing behind', async () => {
    const r = await run(['busybox', 'echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.code, 0, r.stderr);
    const ps = await d.wharf(['ps', '-aq']);
    assert.equal(ps.stdout, '');
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts, 0);
    assert.equal(leaks.conmon, 0);
  });

  test('an --rm container\'s rootfs is mounted volatile (no syncs: it never outlives the container); any other is not', async () => {
    const rootMount = ['busybox', 'grep', ' / ', '/proc/mounts'];
    const rm = await run(rootMount);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^overlay \/ overlay .*volatile/);
    const kept = await d.wharf(['run', '--name', 'not-volatile', ...rootMount]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /^overlay \/ overlay /);
    assert.doesNotMatch(kept.stdout, /volatile/);
    // Started again, it mounts again (its layer never carries a volatile mount's marker).
    const again = await d.wharf(['start', '-a', 'not-volatile']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await d.wharf(['rm', 'not-volatile'])).code, 0);
  });

  test('--ulimit -1 is unlimited (go-units and moby cast it to uint64), in the container and its execs, through both CLIs', async () => {
    const show = ['busybox', 'sh', '-c', 'ulimit -c; ulimit -Hc'];
    const w = await run(['--ulimit', 'core=-1', ...show]);
    assert.equal(w.stdout, 'unlimited\nunlimited\n', w.stderr);
    const soft = await d.docker(['run', '--rm', '--ulimit', 'core=1024:-1', ...show]);
    assert.equal(soft.stdout, '2\nunlimited\n', soft.stderr);
    assert.equal((await d.docker(['run', '-d', '--name', 'ulimit-exec', '--ulimit', 'core=-1', 'busybox', 'sleep', '300'])).code, 0);
    const e = await d.docker(['exec', 'ulimit-exec', 'sh', '-c', 'ulimit -c']);
    assert.equal(e.stdout, 'unlimited\n', e.stderr);
    const hc = await d.docker(['inspect', '-f', '{{json .HostConfig.Ulimits}}', 'ulimit-exec']);
    assert.equal(hc.stdout.trim(), '[{"Name":"core","Hard":-1,"Soft":-1}]');
    assert.equal((await d.docker(['rm', '-f', 'ulimit-exec'])).code, 0);
    const bad = await run(['--ulimit', 'core=-1:5', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid argument "core=-1:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: soft: -1 \(unlimited\), hard: 5/);
  });

  test("exits with the container's code and keeps stdout and stderr apart", async () => {
    const r = await run(['busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('a missing command exits 127 and a non-executable 126, with the runtime message', async () => {
    const a = await run(['busybox', 'nosuchcmd']);
    assert.equal(a.code, 127);
    assert.match(a.stderr, /executable file not found in \$PATH/);
    const b = await run(['busybox', '/etc']);
    assert.equal(b.code, 126);
    assert.match(b.stderr, /permission denied/);
    const leaks = await countLeaks(d);
    assert.equal(leaks.mounts, 0, 'no overlay mount left');
    assert.equal(leaks.conmon, 0, 'no conmon left');
    assert.equal(leaks.runc, 0, 'no runc container left');
    assert.equal((await d.wharf(['ps', '-aq'])).stdout, '', '--rm removed the failed container');
  });

  test('an unknown image is an engine error (125)', async () => {
    const r = await d.wharf(['run', '--rm', '--pull', 'never', 'nosuchimage:1', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /No such image: nosuchimage:1/);
  });

  test('stdin reaches the container with -i', async () => {
    const r = await run(['-i', 'busybox', 'cat'], 'hi\n');
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.code, 0);
  });

  test('env, working dir, hostname and the image default env', async () => {
    const r = await run(['-e', 'FOO=bar', '-w', '/work/dir', '-h', 'myhost', 'busybox', 'sh', '-c', 'echo $FOO; pwd; hostname; echo $PATH; echo $HOME']);
    assert.equal(r.stdout, 'bar\n/work/dir\nmyhost\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/root\n');
  });

  test('-u resolves names from the image passwd and group files', async () => {
    assert.equal((await run(['-u', 'wharfuser', 'busybox', 'id'])).stdout.trim(), 'uid=1000(wharfuser) gid=1000(wharfuser) groups=1000(wharfuser),1001(wharfgroup)');
    assert.equal((await run(['-u', '1234:5678', 'busybox', 'sh', '-c', 'id -u; id -g'])).stdout, '1234\n5678\n');
    const bad = await run(['-u', 'nosuchuser', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /unable to find user nosuchuser: no matching entries in passwd file/);
  });

  test("Docker's default capabilities, --cap-drop/--cap-add and --privileged", async () => {
    const caps = async (...flags: string[]) =>
      (await run([...flags, 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status'])).stdout.trim().split(/\s+/)[1];
    assert.equal(await caps(), '00000000a80425fb');
    assert.equal(await caps('--cap-drop', 'ALL'), '0000000000000000');
    assert.equal(await caps('--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN'), '0000000000001000');
    assert.notEqual(await caps('--privileged'), '00000000a80425fb');
  });

  test('masked and read-only paths, --read-only and --tmpfs', async () => {
    const masked = await run(['busybox', 'sh', '-c', 'cat /proc/kcore | head -c 1 | wc -c; touch /proc/sys/kernel/x 2>&1 || echo ro']);
    assert.match(masked.stdout, /^0\n/);
    const ro = await run(['--read-only', 'busybox', 'sh', '-c', 'touch /x 2>/dev/null && echo writable || echo readonly']);
    assert.equal(ro.stdout, 'readonly\n');
    const tmpfs = await run(['--read-only', '--tmpfs', '/data', 'busybox', 'sh', '-c', 'touch /data/x && grep " /data " /proc/mounts']);
    assert.match(tmpfs.stdout, /^tmpfs \/data tmpfs .*noexec/);
  });

  test('/dev/shm is 64 MiB unless --shm-size says otherwise, and inspect records the size', async () => {
    const def = await run(['busybox', 'sh', '-c', "grep ' /dev/shm ' /proc/mounts"]);
    assert.match(def.stdout, /size=65536k/);
    const small = await run(['--shm-size', '8m', 'busybox', 'sh', '-c', "grep ' /dev/shm ' /proc/mounts"]);
    assert.match(small.stdout, /size=8192k/);
    const created = await d.wharf(['create', 'busybox', 'true']);
    const id = created.stdout.trim();
    assert.equal((await d.wharf(['inspect', '-f', '{{.HostConfig.ShmSize}}', id])).stdout, '67108864\n');
    await d.wharf(['rm', id]);
  });

  test('seccomp blocks what Docker blocks; no-new-privileges is set on request', async () => {
    const r = await run(['busybox', 'sh', '-c', 'grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo allowed || echo denied']);
    assert.match(r.stdout, /Seccomp:\s+2/);
    const nnp = await run(['--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']);
    assert.match(nnp.stdout, /NoNewPrivs:\s+1/);
    const unconfined = await run(['--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
    assert.match(unconfined.stdout, /Seccomp:\s+0/);
  });

  test('memory, cpu and pids limits land in the cgroup', async () => {
    const r = await run(['-m', '64m', '--cpus', '0.5', '--pids-limit', '50', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null']);
    const out = r.stdout.split('\n');
    assert.equal(out[0], '67108864');
    assert.match(out[1]!, /^50000/);
    assert.equal(out[2], '50');
  });

  test('--memory-swap and --cpu-shares land in the cgroup', async () => {
    const r = await run(['-m', '64m', '--memory-swap', '128m', '--cpu-shares', '512', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo $(( $(cat /sys/fs/cgroup/memory.swap.max) + 67108864 )); cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight 2>/dev/null']);
    const [swap, shares] = r.stdout.split('\n');
    assert.equal(swap, '134217728');
    // v1 takes the shares as they are; v2 maps 512 shares to weight 20.
    assert.ok(shares === '512' || shares === '20', shares);
  });

  test('--init runs the init binary as PID 1', async () => {
    const r = await run(['--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
    assert.match(r.stdout, /^\/sbin\/docker-init -- sh -c/);
  });

  test('--network none gives loopback only; --network host shares the host namespace', async () => {
    const none = await run(['--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net | tr "\\n" " "']);
    assert.equal(none.stdout.trim(), 'lo');
    const host = await run(['--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
    assert.equal(host.stdout.trim(), await readlink('/proc/self/ns/net'));
  });

  test('--cidfile gets the ID; a used name is a 409 conflict', async () => {
    const cidfile = `${d.dataRoot}/../cid-${process.pid}`;
    const a = await d.wharf(['run', '-d', '--name', 'taken', '--cidfile', cidfile, 'busybox', 'sleep', '100']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal((await readFile(cidfile, 'utf8')).trim(), a.stdout.trim());
    const b = await d.wharf(['run', '--name', 'taken', 'busybox', 'true']);
    assert.equal(b.code, 125);
    assert.match(b.stderr, /Conflict\. The container name "\/taken" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\./);
    assert.equal((await d.wharf(['rm', '-f', 'taken'])).code, 0);
  });
});

describe('network modes, hostnames and env as Docker (moby integration-cli)', () => {
  const docker = (args: string[]) => d.docker(args);
  const fails = async (args: string[], message: string) => {
    const r = await docker(args);
    assert.equal(r.code, 125, r.stdout);
    assert.ok(r.stderr.includes(message), r.stderr);
  };

  test('-e NAME without a value unsets it, HOSTNAME included', async () => {
    const r = await docker(['run', '--rm', '-e', 'WHARF_NOT_SET_ANYWHERE', '-e', 'HOSTNAME', 'busybox', 'env']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('=')[0]).sort(), ['HOME', 'PATH']);
  });

  test('--network host keeps a UTS namespace of its own: the host name by default, --hostname otherwise; --add-host is honoured', async () => {
    const own = await docker(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'echo $HOSTNAME && hostname']);
    assert.equal(own.stdout, `${hostname()}\n${hostname()}\n`, own.stderr);
    const named = await docker(['run', '--rm', '--network', 'host', '--hostname', 'foobar', 'busybox', 'sh', '-c', 'echo $HOSTNAME && hostname && cat /etc/hostname']);
    assert.equal(named.stdout, 'foobar\nfoobar\nfoobar\n', named.stderr);
    const hosts = await docker(['run', '--rm', '--network', 'host', '--add-host', 'extra:1.2.3.4', 'busybox', 'cat', '/etc/hosts']);
    assert.match(hosts.stdout, /^1\.2\.3\.4\textra$/m, hosts.stderr);
  });

  test('a volume at /etc does not hide the /etc files', async () => {
    const r = await docker(['run', '--rm', '--dns', '127.0.0.1', '-h', 'test123', '--add-host', 'test:192.168.0.1', '-v', '/etc', 'busybox', 'cat', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nameserver 127\.0\.0\.1$/m);
    assert.match(r.stdout, /^test123$/m);
    assert.match(r.stdout, /^192\.168\.0\.1\ttest$/m);
  });

  test("a negative uid and negative CPU shares get moby's errors", async () => {
    await fails(['run', '--rm', '-u', '-1', 'busybox', 'id'], 'uids and gids must be in range 0-2147483647');
    await fails(['run', '--rm', '-u', '0:-1', 'busybox', 'id'], 'uids and gids must be in range 0-2147483647');
    await fails(['run', '--rm', '--cpu-shares', '-1', 'busybox', 'true'], 'invalid CPU shares (-1): value must be a positive integer');
  });

  test("conflicting network options get moby's errors", async () => {
    await fails(['run', '--rm', '--network', 'host', '--link', 'zip:zap', 'busybox', 'true'], "conflicting options: host type networking can't be used with links");
    await fails(['run', '--rm', '--network', 'container', 'busybox', 'true'], 'invalid container format container:<name|id>');
    await fails(['run', '--rm', '--uts', 'host', '--hostname', 'x', 'busybox', 'true'], 'conflicting options: hostname and the UTS mode');
    await fails(['run', '--name', 'self', '--network', 'container:self', 'busybox', 'true'], 'cannot join own network namespace');
    assert.equal((await docker(['rm', 'self'])).code, 0);
    assert.equal((await docker(['create', '--name', 'donor', 'busybox', 'top'])).code, 0);
    await fails(['run', '--rm', '--network', 'container:donor', 'busybox', 'true'], 'cannot join network namespace of a non running container: container donor is created');
    assert.equal((await docker(['start', 'donor'])).code, 0);
    assert.equal((await docker(['run', '-d', '--name', 'joiner', '--network', 'container:donor', 'busybox', 'top'])).code, 0);
    assert.equal((await docker(['network', 'create', 'joinnet'])).code, 0);
    const c = await docker(['network', 'connect', 'joinnet', 'joiner']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /container sharing network namespace with another container or host cannot be connected to any other network/);
    assert.equal((await docker(['rm', '-f', 'joiner', 'donor'])).code, 0);
    assert.equal((await docker(['network', 'rm', 'joinnet'])).code, 0);
  });
});
