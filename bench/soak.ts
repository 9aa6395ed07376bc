/**
 * `npm run soak [-- --cycles N --concurrency C]` (not in CI): N `docker run --rm` cycles (default
 * 1000), C at a time (default 4), with a published port, alternating between a user-defined
 * network and the default bridge, against a real wharfd on temp dirs. Before (after a short
 * warm-up) and after, it counts what a run may leave behind: mounts, veths on the daemon's
 * bridges, iptables rules in its chains, container cgroups, conmon processes, files under the
 * exec root, the daemon's open fds and its RSS. Prints a table; exits 1 on any leak or failed
 * cycle. Run as root, after `npx tsc -p .`.
 */
import { readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Firewall, chainPrefixForBridge } from '../src/network/iptables.js';
import { run } from '../src/network/exec.js';
import { loadBusybox, startDaemon, waitFor, type Daemon } from '../test/integration/harness.js';

const { values: flags } = parseArgs({
  options: {
    cycles: { type: 'string', default: process.env.SOAK_CYCLES ?? '1000' },
    concurrency: { type: 'string', default: process.env.SOAK_CONCURRENCY ?? '4' },
    warmup: { type: 'string', default: '8' },
  },
});
const CYCLES = Number(flags.cycles);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = Number(flags.warmup);
if (!(CYCLES > 0 && CONCURRENCY > 0 && WARMUP >= 0)) throw new Error('--cycles and --concurrency must be positive numbers');

/** What may grow by this much without being a leak (lazily opened fds, heap that GC has not returned). */
const FD_SLACK = 8;
const RSS_SLACK_BYTES = 64 * 1024 * 1024;

interface Counts {
  mounts: number;
  veths: number;
  iptablesRules: number;
  cgroups: number;
  conmon: number;
  execRootFiles: number;
  daemonFds: number;
  rssBytes: number;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n++;
    if (e.isDirectory()) n += await countFiles(join(dir, e.name));
  }
  return n;
}

async function mountPointsUnder(dirs: string[]): Promise<number> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''))
    .filter((p) => dirs.some((d) => p === d || p.startsWith(d + '/'))).length;
}

async function conmonProcesses(execRoot: string): Promise<number> {
  let n = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const [comm, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/comm`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
    ]);
    if (comm.trim() === 'conmon' && cmdline.includes(execRoot)) n++;
  }
  return n;
}

/** Container cgroups under the soak's own cgroup parent, in every hierarchy (v1) or the unified one. */
async function cgroupDirs(parent: string): Promise<string[]> {
  const base = '/sys/fs/cgroup';
  const roots = (await stat(join(base, 'cgroup.controllers')).then(() => true, () => false))
    ? [join(base, parent)]
    : (await readdir(base)).map((c) => join(base, c, parent));
  const out: string[] = [];
  for (const r of roots) {
    for (const e of await readdir(r, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) out.push(join(r, e.name));
  }
  return out;
}

async function vethsOn(bridges: string[]): Promise<number> {
  let n = 0;
  for (const b of bridges) {
    const out = await run('ip', ['-o', 'link', 'show', 'master', b]).catch(() => '');
    n += out.split('\n').filter(Boolean).length;
  }
  return n;
}

async function bridgesOf(d: Daemon): Promise<string[]> {
  const dir = join(d.dataRoot, 'network', 'networks');
  const out: string[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const rec = JSON.parse(await readFile(join(dir, f), 'utf8')) as { bridge?: string };
    if (rec.bridge) out.push(rec.bridge);
  }
  return out;
}

async function measure(d: Daemon, fw: Firewall, cgroupParent: string): Promise<Counts> {
  const status = await readFile(`/proc/${d.pid}/status`, 'utf8');
  return {
    mounts: await mountPointsUnder([d.dataRoot, d.execRoot]),
    veths: await vethsOn(await bridgesOf(d)),
    iptablesRules: (await fw.list()).length,
    cgroups: (await cgroupDirs(cgroupParent)).length,
    conmon: await conmonProcesses(d.execRoot),
    execRootFiles: await countFiles(d.execRoot),
    daemonFds: (await readdir(`/proc/${d.pid}/fd`)).length,
    rssBytes: Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024,
  };
}

function leaked(before: Counts, after: Counts): string[] {
  const out: string[] = [];
  for (const k of ['mounts', 'veths', 'iptablesRules', 'cgroups', 'conmon', 'execRootFiles'] as const) {
    if (after[k] > before[k]) out.push(k);
  }
  if (after.daemonFds > before.daemonFds + FD_SLACK) out.push('daemonFds');
  if (after.rssBytes > before.rssBytes + RSS_SLACK_BYTES) out.push('rssBytes');
  return out;
}

const cgroupParent = `wharf-soak-${randomBytes(4).toString('hex')}`;
const d = await startDaemon({ config: { 'cgroup-parent': `/${cgroupParent}` } });
let exitCode = 0;
try {
  await loadBusybox(d);
  const cfg = JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string };
  const fw = new Firewall(chainPrefixForBridge(cfg.bridge));
  const net = await d.docker(['network', 'create', 'soaknet']);
  if (net.code !== 0) throw new Error(`network create: ${net.stderr}`);

  const failures: string[] = [];
  const cycle = async (i: number): Promise<void> => {
    const network = i % 2 ? 'soaknet' : 'bridge';
    const r = await d.docker(['run', '--rm', '--network', network, '-p', '127.0.0.1::80/tcp', 'busybox', 'true'], { timeoutMs: 120_000 });
    if (r.code !== 0) failures.push(`cycle ${i} (${network}): exit ${r.code}: ${r.stderr.trim()}`);
  };
  const runCycles = async (n: number, onDone?: (done: number) => void): Promise<number> => {
    let next = 0;
    let done = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
        while (next < n) {
          await cycle(next++);
          onDone?.(++done);
        }
      }),
    );
    return performance.now() - t0;
  };

  // Warm-up: first-use allocations (the user network's DNS server, lazily opened fds) are not leaks.
  await runCycles(WARMUP);
  const before = await measure(d, fw, cgroupParent);
  failures.length = 0;
  const rssMiB = async () => (Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${d.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024).toFixed(1);
  const ms = await runCycles(CYCLES, (n) => {
    if (n % 100 === 0) void rssMiB().then((r) => process.stderr.write(`soak: ${n}/${CYCLES} cycles, daemon RSS ${r} MiB\n`));
  });
  // `run --rm` returns once the container is removed; anything still going away gets a moment.
  let after = await measure(d, fw, cgroupParent);
  await waitFor(async () => leaked(before, (after = await measure(d, fw, cgroupParent))).length === 0, { timeoutMs: 10_000, what: 'counts to settle' }).catch(() => {});

  const rows: Array<[string, string, string]> = Object.keys(before).map((k) => {
    const key = k as keyof Counts;
    const fmt = (v: number) => (key === 'rssBytes' ? `${(v / 2 ** 20).toFixed(1)} MiB` : String(v));
    return [key, fmt(before[key]), fmt(after[key])];
  });
  console.log(`soak: ${CYCLES} cycles of docker run --rm -p 127.0.0.1::80 (user network / default bridge), ${CONCURRENCY} at a time, in ${(ms / 1000).toFixed(1)} s`);
  console.log(`${'what'.padEnd(16)}${'before'.padStart(14)}${'after'.padStart(14)}`);
  for (const [k, b, a] of rows) console.log(`${k.padEnd(16)}${b.padStart(14)}${a.padStart(14)}`);
  const leaks = leaked(before, after);
  console.log(`failed cycles: ${failures.length}`);
  for (const f of failures.slice(0, 10)) console.log(`  ${f}`);
  console.log(leaks.length ? `LEAKS: ${leaks.join(', ')}` : 'no leaks');
  if (leaks.length || failures.length) exitCode = 1;
  await d.docker(['network', 'rm', 'soaknet']);
} finally {
  await d.cleanup();
  for (const dir of await cgroupDirs('')) {
    if (dir.endsWith(`/${cgroupParent}`)) await rmdir(dir).catch(() => {});
  }
}
process.exit(exitCode);
