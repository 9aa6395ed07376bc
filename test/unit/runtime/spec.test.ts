import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  buildSpec,
  detectCgroupVersion,
  findInitBinary,
  isStaticElf,
  tmpfsOptions,
  tweakCapabilities,
  type SpecInput,
} from '../../../src/runtime/spec.js';
import { isEngineError } from '../../../src/lib/errors.js';
import { seccompToOci } from '../../../src/runtime/seccomp-default.js';
import type { OciSpec } from '../../../src/runtime/oci-spec.js';

const ID = 'a'.repeat(64);

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: ID,
    rootfs: '/var/lib/wharf/overlay2/x/merged',
    config: {},
    hostConfig: {},
    args: ['sh', '-c', 'echo hi'],
    env: ['PATH=/usr/bin:/bin', 'FOO=bar'],
    cwd: '/work',
    hostname: 'aaaaaaaaaaaa',
    user: { uid: 0, gid: 0, additionalGids: [] },
    network: { kind: 'new' },
    cgroupVersion: '1',
    arch: 'x64',
    ...over,
  };
}

const build = (over: Partial<SpecInput> = {}): OciSpec => JSON.parse(JSON.stringify(buildSpec(input(over))));
const mount = (s: OciSpec, dest: string) => s.mounts.find((m) => m.destination === dest);
const nsTypes = (s: OciSpec) => s.linux.namespaces.map((n) => n.type).sort();
const ALL = [...ALL_CAPABILITIES];

test('process: args, env, cwd, user, hostname, no rlimits, oomScoreAdj', () => {
  const s = build({ user: { uid: 1000, gid: 100, additionalGids: [10, 20] }, domainname: 'example.org' });
  assert.deepEqual(s.process.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(s.process.env, ['PATH=/usr/bin:/bin', 'FOO=bar']);
  assert.equal(s.process.cwd, '/work');
  assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [10, 20] });
  assert.equal(s.hostname, 'aaaaaaaaaaaa');
  assert.equal(s.domainname, 'example.org');
  assert.equal(s.process.rlimits, undefined);
  assert.equal(s.process.terminal, false);
  assert.equal(s.process.noNewPrivileges, false);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.root.path, '/var/lib/wharf/overlay2/x/merged');
  assert.equal(s.root.readonly, false);
});

test('default capabilities are Docker\'s 14', () => {
  const s = build();
  assert.deepEqual([...s.process.capabilities!.bounding].sort(), [...DEFAULT_CAPABILITIES].sort());
  assert.deepEqual(s.process.capabilities!.effective, s.process.capabilities!.bounding);
  assert.deepEqual(s.process.capabilities!.permitted, s.process.capabilities!.bounding);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
});

test('CapAdd/CapDrop: prefixes, case, ALL', () => {
  const caps = (add: string[], drop: string[]) => tweakCapabilities(add, drop, false, ALL);
  const c1 = caps(['net_admin', 'CAP_SYS_PTRACE'], ['chown', 'CAP_KILL']);
  assert.ok(c1.includes('CAP_NET_ADMIN') && c1.includes('CAP_SYS_PTRACE'));
  assert.ok(!c1.includes('CAP_CHOWN') && !c1.includes('CAP_KILL'));
  assert.equal(c1.length, 14);
  assert.deepEqual(caps([], ['ALL']), []);
  assert.deepEqual(caps(['NET_ADMIN'], ['all']), ['CAP_NET_ADMIN']);
  assert.deepEqual(caps(['ALL'], []), ALL);
  assert.deepEqual(caps(['ALL'], ['SYS_ADMIN']), ALL.filter((c) => c !== 'CAP_SYS_ADMIN'));
  assert.deepEqual(caps(['cap_chown'], []).length, 14); // already there: no duplicate
  assert.deepEqual(tweakCapabilities([], ['ALL'], true, ALL), ALL); // privileged wins
});

test('unknown capability -> InvalidParameter with Docker\'s message', () => {
  assert.throws(
    () => buildSpec(input({ hostConfig: { CapAdd: ['foo'] } })),
    (err: unknown) => isEngineError(err, 'InvalidParameter') && err.message === 'unknown capability: "CAP_FOO"',
  );
  assert.throws(() => buildSpec(input({ hostConfig: { CapDrop: ['CAP_NOPE'] } })), /unknown capability: "CAP_NOPE"/);
});

test('masked and readonly paths; HostConfig overrides', () => {
  const s = build();
  assert.deepEqual(s.linux.maskedPaths, DEFAULT_MASKED_PATHS);
  assert.deepEqual(s.linux.readonlyPaths, DEFAULT_READONLY_PATHS);
  assert.ok(s.linux.maskedPaths!.includes('/proc/kcore') && s.linux.maskedPaths!.includes('/sys/firmware'));
  assert.ok(s.linux.readonlyPaths!.includes('/proc/sys'));
  const o = build({ hostConfig: { MaskedPaths: [], ReadonlyPaths: ['/proc/x'] } });
  assert.deepEqual(o.linux.maskedPaths, []);
  assert.deepEqual(o.linux.readonlyPaths, ['/proc/x']);
});

test('privileged: all caps, no masks, no seccomp, /sys rw, devices allow all', () => {
  const s = build({ hostConfig: { Privileged: true } });
  assert.ok(s.process.capabilities!.bounding.includes('CAP_SYS_ADMIN'));
  assert.ok(s.process.capabilities!.bounding.length > 30);
  assert.deepEqual(s.linux.maskedPaths, []);
  assert.deepEqual(s.linux.readonlyPaths, []);
  assert.equal(s.linux.seccomp, undefined);
  assert.ok(mount(s, '/sys')!.options!.includes('rw'));
  assert.ok(!mount(s, '/sys')!.options!.includes('ro'));
  assert.ok(mount(s, '/sys/fs/cgroup')!.options!.includes('rw'));
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
});

test('default mounts as Docker', () => {
  const s = build({ hostConfig: {} });
  assert.deepEqual(mount(s, '/proc'), { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] });
  assert.deepEqual(mount(s, '/dev')!.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
  assert.deepEqual(mount(s, '/dev/pts')!.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
  assert.ok(mount(s, '/sys')!.options!.includes('ro'));
  assert.equal(mount(s, '/sys/fs/cgroup')!.type, 'cgroup');
  assert.ok(mount(s, '/sys/fs/cgroup')!.options!.includes('ro'));
  assert.equal(mount(s, '/dev/mqueue')!.type, 'mqueue');
  assert.ok(mount(s, '/dev/shm')!.options!.includes(`size=${64 * 1024 * 1024}`));
  const shm = build({ hostConfig: { ShmSize: 1024 * 1024 } });
  assert.ok(mount(shm, '/dev/shm')!.options!.includes('size=1048576'));
});

test('etc files bind-mounted; read-only rootfs makes them ro', () => {
  const etcFiles = { hostname: '/c/hostname', hosts: '/c/hosts', resolvConf: '/c/resolv.conf' };
  const s = build({ etcFiles });
  assert.deepEqual(mount(s, '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/c/hosts', options: ['rbind', 'rprivate', 'rw'] });
  assert.equal(mount(s, '/etc/hostname')!.source, '/c/hostname');
  assert.equal(mount(s, '/etc/resolv.conf')!.source, '/c/resolv.conf');
  const ro = build({ etcFiles, hostConfig: { ReadonlyRootfs: true } });
  assert.equal(ro.root.readonly, true);
  assert.ok(mount(ro, '/etc/hosts')!.options!.includes('ro'));
  // A volume at /etc is mounted before the files, which would otherwise be hidden under it.
  const vol = build({ etcFiles, mounts: [{ destination: '/etc', type: 'bind', source: '/v/etc', options: ['rbind'] }] });
  const dests = vol.mounts.map((m) => m.destination);
  assert.ok(dests.indexOf('/etc') < dests.indexOf('/etc/resolv.conf'), dests.join(' '));
  assert.ok(dests.indexOf('/etc') < dests.indexOf('/etc/hosts'), dests.join(' '));
});

test('tmpfs: Docker defaults merged with the user options; user mounts replace defaults', () => {
  assert.deepEqual(tmpfsOptions(''), ['noexec', 'nosuid', 'nodev']);
  assert.deepEqual(tmpfsOptions('rw,size=64m,noexec'), ['nosuid', 'nodev', 'rw', 'size=64m', 'noexec']);
  assert.deepEqual(tmpfsOptions('exec'), ['nosuid', 'nodev', 'exec']);
  const s = build({ hostConfig: { Tmpfs: { '/run': 'size=1m', '/dev/shm': 'size=2m' } } });
  assert.deepEqual(mount(s, '/run'), { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'size=1m'] });
  const shms = s.mounts.filter((m) => m.destination === '/dev/shm');
  assert.equal(shms.length, 1);
  assert.ok(shms[0]!.options!.includes('size=2m'));
  const extra = build({ mounts: [{ destination: '/data/sub', type: 'bind', source: '/h/b', options: ['rbind'] }, { destination: '/data', type: 'bind', source: '/h/a', options: ['rbind'] }] });
  const dests = extra.mounts.map((m) => m.destination);
  assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
});

test('--init: binary mounted read-only at /sbin/docker-init, args prefixed', () => {
  const s = build({ initPath: '/usr/bin/tini-static' });
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sh', '-c', 'echo hi']);
  assert.deepEqual(mount(s, '/sbin/docker-init'), {
    destination: '/sbin/docker-init',
    type: 'bind',
    source: '/usr/bin/tini-static',
    options: ['bind', 'ro'],
  });
});

test('namespaces: new/host/path netns, cgroupns by version and mode, host pid/ipc/uts', () => {
  assert.deepEqual(nsTypes(build()), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(nsTypes(build({ cgroupVersion: '2' })), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(nsTypes(build({ cgroupVersion: '2', hostConfig: { CgroupnsMode: 'host' } })), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(nsTypes(build({ cgroupVersion: '1', hostConfig: { CgroupnsMode: 'private' } })), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(nsTypes(build({ network: { kind: 'host' } })), ['ipc', 'mount', 'pid', 'uts']);
  const p = build({ network: { kind: 'path', path: '/proc/42/ns/net' } });
  assert.deepEqual(p.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/proc/42/ns/net' });
  const h = build({ hostConfig: { PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } });
  assert.deepEqual(nsTypes(h), ['mount', 'network']);
  assert.equal(h.hostname, undefined);
  assert.equal(mount(h, '/dev/shm')!.type, 'bind');
});

test('cgroupsPath: /wharf/<id> by default, CgroupParent respected, systemd form', () => {
  assert.equal(build().linux.cgroupsPath, `/wharf/${ID}`);
  assert.equal(build({ cgroupParent: 'mygroup' }).linux.cgroupsPath, `/mygroup/${ID}`);
  assert.equal(build({ cgroupParent: '/a/b' }).linux.cgroupsPath, `/a/b/${ID}`);
  // `..` cannot climb above the hierarchy's root (runc joins the path under each mount).
  assert.equal(build({ cgroupParent: '../../../sys/x' }).linux.cgroupsPath, `/sys/x/${ID}`);
  assert.equal(build({ cgroupParent: '/a/../../..' }).linux.cgroupsPath, `/${ID}`);
  assert.equal(build({ cgroupDriver: 'systemd' }).linux.cgroupsPath, `system.slice:wharf:${ID}`);
  assert.equal(build({ cgroupDriver: 'systemd', cgroupParent: 'my.slice' }).linux.cgroupsPath, `my.slice:wharf:${ID}`);
});

test('resources math', () => {
  const s = build({
    hostConfig: {
      Memory: 256 * 1024 * 1024,
      MemoryReservation: 128 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
      CpuShares: 512,
      CpusetCpus: '0-1',
      CpusetMems: '0',
      PidsLimit: 100,
      BlkioWeight: 300,
      OomKillDisable: true,
    },
  });
  const r = s.linux.resources!;
  assert.deepEqual(r.memory, { limit: 268435456, reservation: 134217728, swap: 536870912, disableOOMKiller: true });
  assert.deepEqual(r.cpu, { period: 100000, quota: 150000, shares: 512, cpus: '0-1', mems: '0' });
  assert.deepEqual(r.pids, { limit: 100 });
  assert.deepEqual(r.blockIO, { weight: 300 });
  assert.equal(build({ hostConfig: { Memory: 1 << 20, MemorySwap: -1 } }).linux.resources!.memory!.swap, -1);
  assert.equal(build({ hostConfig: { Memory: 1 << 20, MemorySwap: 3 << 20 } }).linux.resources!.memory!.swap, 3 << 20);
  assert.equal(build({ hostConfig: { Memory: 1 << 20 }, swapAccounting: false }).linux.resources!.memory!.swap, undefined);
  assert.deepEqual(build({ hostConfig: { CpuQuota: 50000, CpuPeriod: 200000 } }).linux.resources!.cpu, { quota: 50000, period: 200000 });
  assert.equal(build({ hostConfig: { PidsLimit: 0 } }).linux.resources!.pids, undefined);
  assert.equal(build({ hostConfig: { PidsLimit: -1 } }).linux.resources!.pids, undefined);
  assert.equal(build().linux.resources!.memory, undefined);
});

test('device cgroup: deny all, then Docker defaults; custom rules', () => {
  const d = build({ hostConfig: { DeviceCgroupRules: ['c 42:* rmw'] } }).linux.resources!.devices!;
  assert.deepEqual(d[0], { allow: false, access: 'rwm' });
  const has = (type: string, major: number, minor: number | undefined) =>
    d.some((r) => r.allow && r.type === type && r.major === major && r.minor === minor);
  assert.ok(has('c', 1, 3) && has('c', 1, 5) && has('c', 1, 7) && has('c', 1, 8) && has('c', 1, 9) && has('c', 5, 0));
  assert.ok(has('c', 136, undefined) && has('c', 5, 2) && has('c', 42, undefined));
  assert.throws(() => build({ hostConfig: { DeviceCgroupRules: ['x 1:1 r'] } }), /invalid device cgroup rule format: 'x 1:1 r'/);
});

test('ulimits become rlimits; sysctls, annotations, tty and console size', () => {
  const s = build({
    config: { Tty: true },
    hostConfig: {
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      Sysctls: { 'net.ipv4.ip_forward': '1' },
      ConsoleSize: [40, 120],
      OomScoreAdj: 500,
      Annotations: { a: 'b' },
    },
  });
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 }]);
  assert.equal(s.linux.sysctl!['net.ipv4.ip_forward'], '1');
  assert.equal(s.process.terminal, true);
  assert.deepEqual(s.process.consoleSize, { height: 40, width: 120 });
  assert.equal(s.process.oomScoreAdj, 500);
  assert.deepEqual(s.annotations, { a: 'b' });
});

test('security opts: no-new-privileges forms, seccomp unconfined/builtin/json, never a path, errors', async () => {
  assert.equal(build({ hostConfig: { SecurityOpt: ['no-new-privileges'] } }).process.noNewPrivileges, true);
  assert.equal(build({ hostConfig: { SecurityOpt: ['no-new-privileges:true'] } }).process.noNewPrivileges, true);
  assert.equal(build({ hostConfig: { SecurityOpt: ['no-new-privileges=false'] } }).process.noNewPrivileges, false);
  assert.equal(build({ hostConfig: { SecurityOpt: ['seccomp=unconfined'] } }).linux.seccomp, undefined);
  assert.equal(build({ hostConfig: { SecurityOpt: ['seccomp=builtin'] } }).linux.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  const custom = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const j = build({ hostConfig: { SecurityOpt: [`seccomp=${JSON.stringify(custom)}`] } });
  assert.deepEqual(j.linux.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  const dir = await mkdtemp(join(tmpdir(), 'wharf-spec-'));
  try {
    // A path is never opened by the daemon (the client sends the content): a valid profile file
    // there is refused like any non-JSON value, and nothing of the file shows in the error.
    await writeFile(join(dir, 'p.json'), JSON.stringify({ ...custom, secret: 'root:x:0' }));
    assert.throws(
      () => buildSpec(input({ hostConfig: { SecurityOpt: [`seccomp=${join(dir, 'p.json')}`] } })),
      (err: unknown) => isEngineError(err, 'InvalidParameter') && /^Decoding seccomp profile failed: /.test(err.message) && !err.message.includes('root:x'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.throws(
    () => buildSpec(input({ hostConfig: { SecurityOpt: ['foo=bar'] } })),
    (err: unknown) => isEngineError(err, 'InvalidParameter') && err.message === 'invalid --security-opt 2: "foo=bar"',
  );
  assert.throws(() => buildSpec(input({ hostConfig: { SecurityOpt: ['no-new-privileges=maybe'] } })), /invalid --security-opt 2: "no-new-privileges=maybe"/);
  assert.throws(() => buildSpec(input({ hostConfig: { SecurityOpt: ['bogus'] } })), /invalid --security-opt 1: "bogus"/);
  // accepted without an LSM
  build({ hostConfig: { SecurityOpt: ['apparmor=unconfined', 'label=disable'] } });
});

test("a custom seccomp profile is read as moby's setupSeccomp reads it: name, empty, conflicts", () => {
  const seccompOf = (profile: object) => build({ hostConfig: { SecurityOpt: [`seccomp=${JSON.stringify(profile)}`] } }).linux.seccomp;
  // Older profiles name one syscall a rule (`name`): a deny rule written so must not be dropped.
  const old = seccompOf({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { name: 'chmod', action: 'SCMP_ACT_ERRNO' },
      { names: ['fchmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' },
    ],
  });
  assert.deepEqual(old?.syscalls, [
    { names: ['chmod'], action: 'SCMP_ACT_ERRNO' },
    { names: ['fchmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' },
  ]);
  // Neither a default action nor syscalls: no seccomp, as in moby.
  assert.equal(seccompOf({}), undefined);
  assert.throws(
    () => seccompOf({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'chmod', names: ['chown'], action: 'SCMP_ACT_ERRNO' }] }),
    /both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'$/,
  );
  assert.throws(
    () => seccompOf({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }),
    /both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'/,
  );
});

test('seccomp rules filtered by kernel: includes.minKernel and excludes.minKernel against the running kernel', () => {
  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['new'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.12' } },
      { names: ['old'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.12' } },
    ],
  };
  const names = (kernel: string) => seccompToOci(profile, [], 'x64', kernel)!.syscalls!.map((r) => r.names[0]);
  assert.deepEqual(names('6.1.0-18-amd64'), ['new']);
  assert.deepEqual(names('5.12.0'), ['new']);
  assert.deepEqual(names('5.4.0-generic'), ['old']);
  assert.deepEqual(names('4.19'), ['old']);
  assert.throws(() => seccompToOci({ ...profile, syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }] }, [], 'x64', '6.1'), /invalid kernel version: "new"/);
});

test('default seccomp: EPERM default, capability-gated calls, clone namespace mask', () => {
  const s = build().linux.seccomp!;
  assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.defaultErrnoRet, 1);
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const allowed = (spec: OciSpec['linux']['seccomp'], name: string) =>
    spec!.syscalls!.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(name) && !r.args);
  for (const n of ['read', 'write', 'openat', 'execve', 'socket', 'futex', 'exit_group']) assert.ok(allowed(s, n), n);
  for (const n of ['mount', 'umount2', 'unshare', 'kexec_load', 'init_module', 'finit_module', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'request_key', 'ptrace', 'setns', 'reboot']) {
    assert.ok(!s.syscalls!.some((r) => r.names.includes(n) && r.action === 'SCMP_ACT_ALLOW'), n);
  }
  const clone = s.syscalls!.find((r) => r.names.includes('clone'))!;
  assert.equal(clone.args![0]!.op, 'SCMP_CMP_MASKED_EQ');
  assert.equal(clone.args![0]!.value, 2114060288);
  assert.equal(s.syscalls!.find((r) => r.names.includes('clone3'))!.errnoRet, 38);
  assert.ok(s.syscalls!.some((r) => r.names.includes('personality') && r.args?.[0]!.value === 0));
  const admin = build({ hostConfig: { CapAdd: ['SYS_ADMIN', 'SYS_PTRACE'] } }).linux.seccomp!;
  for (const n of ['mount', 'unshare', 'setns', 'clone', 'ptrace']) assert.ok(allowed(admin, n), n);
  assert.ok(!admin.syscalls!.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'));
  assert.ok(!admin.syscalls!.some((r) => r.names.includes('keyctl')));
  assert.deepEqual(build({ arch: 'arm64' }).linux.seccomp!.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('detectCgroupVersion and findInitBinary on this host', async () => {
  const v = await detectCgroupVersion();
  assert.ok(v === '1' || v === '2');
  assert.equal(await detectCgroupVersion('/proc'), '1');
  const init = await findInitBinary();
  if (init) assert.ok(await isStaticElf(init), `${init} should be static`);
  assert.equal(await isStaticElf('/bin/sh'), false);
  assert.equal(await findInitBinary(['/nonexistent/tini']), undefined);
});

test('default sysctls: only with a network namespace of its own, where they exist; --sysctl wins', () => {
  const all = () => true;
  const defaults = { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' };
  assert.deepEqual(build({ sysctlExists: all, inUserNamespace: false }).linux.sysctl, defaults);
  assert.equal(build({ network: { kind: 'host' }, sysctlExists: all, inUserNamespace: false }).linux.sysctl, undefined);
  assert.equal(build({ network: { kind: 'path', path: '/proc/1/ns/net' }, sysctlExists: all, inUserNamespace: false }).linux.sysctl, undefined);
  // A namespace of its own that the daemon made beforehand and runc joins: the defaults too.
  const own = build({ network: { kind: 'own', path: '/run/wharf/netns/x' }, sysctlExists: all, inUserNamespace: false }).linux;
  assert.deepEqual(own.sysctl, defaults);
  assert.deepEqual(own.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/wharf/netns/x' });
  const user = build({ sysctlExists: all, inUserNamespace: false, hostConfig: { Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024' } } });
  assert.deepEqual(user.linux.sysctl, { ...defaults, 'net.ipv4.ip_unprivileged_port_start': '1024' });
  // No ICMP sockets from a user namespace; nothing the kernel lacks.
  assert.deepEqual(build({ sysctlExists: all, inUserNamespace: true }).linux.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  assert.equal(build({ sysctlExists: () => false, inUserNamespace: false }).linux.sysctl, undefined);
});

test('devices: nodes in linux.devices, their rules after the defaults, before --device-cgroup-rule', () => {
  const tun = { type: 'c', path: '/dev/net/tun', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 };
  const s = build({
    devices: [tun],
    deviceRules: [{ allow: true, type: 'c', major: 10, minor: 200, access: 'rw' }],
    hostConfig: { DeviceCgroupRules: ['b 7:* rwm'] },
  });
  assert.deepEqual(s.linux.devices, [tun]);
  const rules = s.linux.resources!.devices!;
  assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
  assert.deepEqual(rules.slice(-2), [
    { allow: true, type: 'c', major: 10, minor: 200, access: 'rw' },
    { allow: true, type: 'b', major: 7, access: 'rwm' },
  ]);
  const priv = build({ devices: [tun], deviceRules: [], hostConfig: { Privileged: true } });
  assert.deepEqual(priv.linux.devices, [tun]);
  assert.deepEqual(priv.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
});
