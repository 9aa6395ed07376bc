import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseBlkioV1,
  parseCgroupMounts,
  parseIoStatV2,
  parseNetDev,
  parseProcCgroup,
  parseProcStat,
} from '../../../src/daemon/stats/parse.js';
import { cgroupDirsOf, readCgroupV1, readCgroupV2 } from '../../../src/daemon/stats/cgroup-read.js';
import { openStatsStream, sampleStats, zeroStats, type StatsTarget } from '../../../src/daemon/stats/collector.js';
import { cpuPercent, memUsageNoCache, StatsRow, toEntry } from '../../../src/cli/stats.js';

const GiB = 1024 ** 3;

test('/proc/stat: system usage is the first seven cpu fields in ns; online CPUs are the cpuN lines', () => {
  const s = parseProcStat('cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\ncpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2\n');
  assert.equal(s.systemUsageNs, (100 + 2 + 30 + 400 + 5 + 6 + 7) * 1e7);
  assert.equal(s.onlineCpus, 2);
});

test('net/dev: counters per interface, loopback left out', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1296      16    1    2    0     0          0         0      426       5    3    4    0     0       0          0
`;
  assert.deepEqual(parseNetDev(text), {
    eth0: { rx_bytes: 1296, rx_packets: 16, rx_errors: 1, rx_dropped: 2, tx_bytes: 426, tx_packets: 5, tx_errors: 3, tx_dropped: 4 },
  });
});

test('blkio v1 lines and v2 io.stat become Docker entries', () => {
  assert.deepEqual(parseBlkioV1('8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n'), [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 512 },
    { major: 8, minor: 0, op: 'Total', value: 4608 },
  ]);
  assert.deepEqual(parseIoStatV2('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n'), [
    { major: 254, minor: 0, op: 'read', value: 4096 },
    { major: 254, minor: 0, op: 'write', value: 8192 },
  ]);
});

test('/proc/<pid>/cgroup and mountinfo give each controller its directory', () => {
  const cg = parseProcCgroup('12:pids:/wharf/abc\n4:cpu,cpuacct:/wharf/abc\n1:name=systemd:/x\n0::/\n');
  assert.equal(cg.v1['pids'], '/wharf/abc');
  assert.equal(cg.v1['cpuacct'], '/wharf/abc');
  assert.equal(cg.v1['systemd'], '/x');
  assert.equal(cg.unified, '/');
  const mounts = parseCgroupMounts(
    '30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n' +
      '31 25 0:27 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n' +
      '32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n',
  );
  assert.deepEqual(mounts.map((m) => [m.mountPoint, m.root, m.controllers, m.version]), [
    ['/sys/fs/cgroup/cpu,cpuacct', '/', ['cpu', 'cpuacct'], 1],
    ['/sys/fs/cgroup/memory', '/outer', ['memory'], 1],
    ['/sys/fs/cgroup/unified', '/', [], 2],
  ]);
});

async function fakeProc(root: string, pid: number, cgroup: string, mountinfo: string): Promise<void> {
  await mkdir(join(root, String(pid), 'net'), { recursive: true });
  await mkdir(join(root, 'self'), { recursive: true });
  await writeFile(join(root, String(pid), 'cgroup'), cgroup);
  await writeFile(join(root, 'self', 'mountinfo'), mountinfo);
  await writeFile(join(root, 'stat'), 'cpu  1000 0 1000 8000 0 0 0 0 0 0\ncpu0 1 0 0 0 0 0 0\ncpu1 1 0 0 0 0 0 0\n');
  await writeFile(join(root, String(pid), 'net', 'dev'), 'h\nh\n  eth0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n');
}

test('cgroup v1 sample files read into Docker stats (limit, percpu, throttling, blkio fallback)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'stats-v1-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const cg = join(root, 'cg');
  const dir = (c: string) => join(cg, c, 'wharf', 'abc');
  for (const c of ['memory', 'cpu,cpuacct', 'pids', 'blkio']) await mkdir(dir(c), { recursive: true });
  await writeFile(join(dir('memory'), 'memory.usage_in_bytes'), '10485760\n');
  await writeFile(join(dir('memory'), 'memory.max_usage_in_bytes'), '20971520\n');
  await writeFile(join(dir('memory'), 'memory.limit_in_bytes'), '67108864\n');
  await writeFile(join(dir('memory'), 'memory.failcnt'), '0\n');
  await writeFile(join(dir('memory'), 'memory.stat'), 'cache 4096\nrss 8192\nswap 0\ntotal_inactive_file 2097152\n');
  await writeFile(join(dir('cpu,cpuacct'), 'cpuacct.usage'), '5000000000\n');
  await writeFile(join(dir('cpu,cpuacct'), 'cpuacct.usage_percpu'), '3000000000 2000000000 \n');
  await writeFile(join(dir('cpu,cpuacct'), 'cpuacct.stat'), 'user 300\nsystem 100\n');
  await writeFile(join(dir('cpu,cpuacct'), 'cpu.stat'), 'nr_periods 10\nnr_throttled 2\nthrottled_time 12345\n');
  await writeFile(join(dir('pids'), 'pids.current'), '3\n');
  await writeFile(join(dir('pids'), 'pids.max'), 'max\n');
  await writeFile(join(dir('blkio'), 'blkio.io_service_bytes_recursive'), 'Total 0\n');
  await writeFile(join(dir('blkio'), 'blkio.throttle.io_service_bytes_recursive'), '8:0 Read 4096\n8:0 Write 1024\nTotal 5120\n');
  const proc = join(root, 'proc');
  await fakeProc(
    proc,
    42,
    '9:memory:/wharf/abc\n4:cpu,cpuacct:/wharf/abc\n8:pids:/wharf/abc\n7:blkio:/wharf/abc\n0::/\n',
    ['memory', 'cpu,cpuacct', 'pids', 'blkio'].map((c, i) => `${30 + i} 25 0:${26 + i} / ${join(cg, c)} rw - cgroup cgroup rw,${c}`).join('\n') + '\n',
  );
  const dirs = await cgroupDirsOf(42, '1', proc);
  assert.deepEqual(dirs, { version: 1, dirs: { memory: dir('memory'), cpu: dir('cpu,cpuacct'), cpuacct: dir('cpu,cpuacct'), pids: dir('pids'), blkio: dir('blkio') } });
  const c = await readCgroupV1((dirs as { dirs: Record<string, string> }).dirs, 8 * GiB);
  assert.deepEqual(c.cpu, {
    cpu_usage: { total_usage: 5e9, percpu_usage: [3e9, 2e9], usage_in_kernelmode: 1e9, usage_in_usermode: 3e9 },
    throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 12345 },
  });
  // Docker's 32 keys of v1's memory.stat, each there (0 when the file lacks it), sorted as Go writes them; no others.
  const { stats, ...memory } = c.memory;
  assert.deepEqual(memory, { usage: 10485760, max_usage: 20971520, limit: 67108864 });
  assert.equal(Object.keys(stats!).length, 32);
  assert.deepEqual(Object.keys(stats!), Object.keys(stats!).sort());
  assert.deepEqual([stats!['cache'], stats!['rss'], stats!['total_inactive_file'], stats!['hierarchical_memsw_limit'], stats!['swap']], [4096, 8192, 2097152, 0, undefined]);
  assert.deepEqual(c.pids, { current: 3 });
  assert.deepEqual(c.blkio.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 1024 },
  ]);
  // Empty lists are lists, as moby's copy of each makes them.
  assert.deepEqual(c.blkio.io_queue_recursive, []);
  // No limit (the kernel's huge number) is shown as the machine's memory.
  await writeFile(join(dir('memory'), 'memory.limit_in_bytes'), '9223372036854771712\n');
  assert.equal((await readCgroupV1((dirs as { dirs: Record<string, string> }).dirs, 8 * GiB)).memory.limit, 8 * GiB);

  let pid = 42;
  const target: StatsTarget = { id: 'abc', name: () => '/web', pid: () => pid, networkMode: () => 'bridge', exists: () => true };
  const s = await sampleStats(target, { cgroupVersion: '1', procRoot: proc, machineMemory: 8 * GiB });
  assert.ok(s);
  assert.deepEqual(Object.keys(s), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats', 'name', 'id', 'networks']);
  assert.equal(s.cpu_stats.system_cpu_usage, 10000 * 1e7);
  assert.equal(s.cpu_stats.online_cpus, 2);
  assert.equal(s.networks?.['eth0']?.tx_bytes, 20);
  // The CLI's arithmetic over it: memory without inactive file pages, over the limit.
  const e = toEntry('web', s);
  assert.equal(e.memory, 10485760 - 2097152);
  assert.equal(e.blockRead, 4096);
  assert.equal(new StatsRow(e, true).MemUsage(), '8MiB / 8GiB');
  assert.equal(new StatsRow(e, true).BlockIO(), '4.1kB / 1.02kB');
  // stream=false: two samples, the second carrying the first as precpu; stopped → zeroed.
  const stream = openStatsStream(target, { stream: false, oneShot: false }, { cgroupVersion: '1', procRoot: proc, intervalMs: 5 });
  const got = [];
  for await (const x of stream.samples) got.push(x);
  assert.equal(got.length, 1);
  assert.notEqual(got[0]!.preread, '0001-01-01T00:00:00Z');
  assert.equal(got[0]!.precpu_stats.system_cpu_usage, 10000 * 1e7);
  pid = 0;
  const stopped = openStatsStream(target, { stream: false, oneShot: false }, { cgroupVersion: '1', procRoot: proc });
  for await (const x of stopped.samples) assert.deepEqual(x, zeroStats('/web', 'abc'));
});

test('cgroup v2 sample files read into Docker stats', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'stats-v2-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'wharf', 'abc');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cpu.stat'), 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n');
  await writeFile(join(dir, 'memory.current'), '4194304\n');
  await writeFile(join(dir, 'memory.max'), 'max\n');
  await writeFile(join(dir, 'memory.stat'), 'anon 1024\nfile 2048\ninactive_file 1048576\nsome_new_key 1\n');
  await writeFile(join(dir, 'pids.current'), '2\n');
  await writeFile(join(dir, 'pids.max'), '100\n');
  await writeFile(join(dir, 'io.stat'), '8:16 rbytes=100 wbytes=200 rios=1 wios=2\n');
  const proc = join(root, 'proc');
  await fakeProc(proc, 7, '0::/wharf/abc\n', `40 25 0:30 / ${root} rw - cgroup2 cgroup2 rw\n`);
  const dirs = await cgroupDirsOf(7, '2', proc);
  assert.deepEqual(dirs, { version: 2, dir });
  const c = await readCgroupV2(dir, 8 * GiB);
  assert.deepEqual(c.cpu, {
    cpu_usage: { total_usage: 2_500_000, usage_in_kernelmode: 500_000, usage_in_usermode: 2_000_000 },
    throttling_data: { periods: 4, throttled_periods: 1, throttled_time: 7000 },
  });
  assert.equal(c.memory.usage, 4194304);
  assert.equal(c.memory.limit, 8 * GiB);
  assert.equal(c.memory.max_usage, undefined);
  assert.equal(c.memory.stats?.['inactive_file'], 1048576);
  assert.equal(c.memory.stats?.['some_new_key'], undefined);
  assert.deepEqual(c.pids, { current: 2, limit: 100 });
  assert.deepEqual(c.blkio.io_service_bytes_recursive, [
    { major: 8, minor: 16, op: 'read', value: 100 },
    { major: 8, minor: 16, op: 'write', value: 200 },
  ]);
  assert.equal(memUsageNoCache(c.memory), 4194304 - 1048576);
});

test("CPU % is Docker's: container delta over system delta times online CPUs", () => {
  const s = zeroStats('/x', 'id');
  s.precpu_stats = { ...s.precpu_stats, cpu_usage: { total_usage: 1e9, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 100e9 };
  s.cpu_stats = { ...s.cpu_stats, cpu_usage: { total_usage: 1.5e9, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 102e9, online_cpus: 2 };
  assert.equal(cpuPercent(s), 50);
  assert.equal(new StatsRow(toEntry('x', s), true).CPUPerc(), '50.00%');
  assert.equal(cpuPercent(zeroStats('/x', 'id')), 0);
});
