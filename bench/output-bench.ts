/**
 * Output throughput through the engine, with the real Docker CLI writing to /dev/null:
 *   run    `docker run --rm --network none busybox head -c 200M /dev/zero`
 *   exec   `docker exec <running container> head -c 100M /dev/zero`
 * wharfd beside the Docker engine BENCH_DOCKER_HOST names and beside the floor: the same command
 * under `runc run` / `runc exec` of a prepared bundle, its output through a pipe into
 * `cat > /dev/null` (one copy, no engine). Alternated per iteration, medians. With
 * BENCH_BASELINE_MAIN, a wharfd of that build too. Each case also prints the CPU seconds of each
 * process (bench/process-cpu.ts): the Docker CLI, wharfd, conmon and the container's `head`
 * (Docker: the CLI, and for `run` the new containerd-shim and `head`; its exec goes through the
 * sleeper's shim, not counted; the floor: all of runc, head and cat together).
 * Run as root, after `npx tsc -p .`:  node dist/bench/output-bench.js [N]   (BENCH_OUTPUT_N, default 5)
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSpec, detectCgroupVersion } from '../src/runtime/spec.js';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { makeBusyboxRootfs } from '../test/integration/runtime-rootfs.js';
import { engineHosts, startBaselineDaemon } from './baseline.js';
import { runMeasured, type CpuSplit, type CpuWatch } from './process-cpu.js';
import { median, recordRow } from './report.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_OUTPUT_N ?? process.argv[2] ?? 5);
const RUN_BYTES = 200 * 1024 * 1024;
const EXEC_BYTES = 100 * 1024 * 1024;

const daemon = await startDaemon();
const baseline = await startBaselineDaemon();
const dir = await mkdtemp(join(tmpdir(), 'wharf-output-bench-'));
const runcRoot = join(dir, 'runc');
const hosts = engineHosts(daemon, baseline);
// Whose processes each engine's CPU split counts: the daemon's pid and a string in its supervisors' command lines
// (scripts/bench-dockerd.sh's dockerd runs its containers in containerd's namespace wharf-bench).
const watches: Record<string, CpuWatch> = { wharfd: { daemonPid: daemon.pid, marker: daemon.root }, docker: { daemonPid: 0, marker: 'wharf-bench' } };
if (baseline) watches.baseline = { daemonPid: baseline.pid, marker: baseline.root };
const sleepers: Record<string, string> = {};
const env = { ...process.env, DOCKER_CONFIG: join(daemon.root, 'docker-config') };
try {
  await loadBusybox(daemon);
  if (baseline) await loadBusybox(baseline);
  const rootfs = await makeBusyboxRootfs(dir);
  const cgroupVersion = await detectCgroupVersion();
  const bundle = async (name: string, args: string[]) => {
    const b = join(dir, name);
    await mkdir(b, { recursive: true });
    const spec = buildSpec({
      id: name, rootfs, config: {}, hostConfig: {}, args, env: ['PATH=/bin'], cwd: '/', hostname: name,
      user: { uid: 0, gid: 0, additionalGids: [] }, network: { kind: 'new' }, cgroupVersion,
    });
    await writeFile(join(b, 'config.json'), JSON.stringify(spec));
    return b;
  };
  const runBundle = await bundle('run', ['head', '-c', String(RUN_BYTES), '/dev/zero']);
  const sleepBundle = await bundle('sleep', ['sleep', '600']);
  // The sleeper inherits runc's stdio and keeps it: /dev/null, so nothing waits for its end.
  await new Promise<void>((resolve, reject) => {
    const c = spawn('runc', ['--root', runcRoot, 'create', '--bundle', sleepBundle, 'floor-sleeper'], { env, stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc create: exit ${code}`))));
  });
  await run('runc', ['--root', runcRoot, 'start', 'floor-sleeper'], { env });
  for (const [name, host] of Object.entries(hosts)) {
    const { stdout } = await run(DOCKER_CLI, ['-H', host, 'run', '-d', '--network', 'none', 'busybox', 'sleep', '600'], { env });
    sleepers[name] = stdout.trim();
  }

  let k = 0;
  type Case = () => Promise<{ ms: number; cpu: CpuSplit }>;
  const cases: Record<string, { run: Case; exec: Case }> = {};
  for (const [name, host] of Object.entries(hosts)) {
    const watch = watches[name] ?? null;
    cases[name] = {
      run: () => runMeasured(DOCKER_CLI, ['-H', host, 'run', '--rm', '--network', 'none', 'busybox', 'head', '-c', String(RUN_BYTES), '/dev/zero'], env, watch),
      exec: () => runMeasured(DOCKER_CLI, ['-H', host, 'exec', sleepers[name]!, 'head', '-c', String(EXEC_BYTES), '/dev/zero'], env, watch),
    };
  }
  cases.floor = {
    run: () => runMeasured('sh', ['-c', 'runc --root "$1" run --bundle "$2" "$3" | cat > /dev/null', 'sh', runcRoot, runBundle, `floor-run-${k++}`], env, null),
    exec: () => runMeasured('sh', ['-c', `runc --root "$1" exec floor-sleeper head -c ${EXEC_BYTES} /dev/zero | cat > /dev/null`, 'sh', runcRoot], env, null),
  };
  const samples: Record<string, { run: number[]; exec: number[] }> = {};
  const cpu: Record<string, { run: CpuSplit[]; exec: CpuSplit[] }> = {};
  for (const [name, c] of Object.entries(cases)) {
    samples[name] = { run: [], exec: [] };
    cpu[name] = { run: [], exec: [] };
    await c.run(); // warm-up
    await c.exec();
  }
  for (let i = 0; i < N; i++) {
    for (const [name, c] of Object.entries(cases)) {
      for (const what of ['run', 'exec'] as const) {
        const r = await c[what]();
        samples[name]![what].push(r.ms);
        cpu[name]![what].push(r.cpu);
      }
    }
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`output to /dev/null through the Docker CLI, ${N} alternated iterations, medians (load average now ${load}):`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(8)} run --rm, 200 MB ${median(s.run).toFixed(0).padStart(6)} ms   exec, 100 MB ${median(s.exec).toFixed(0).padStart(6)} ms`);
  }
  console.log('CPU seconds per process (medians; client is the Docker CLI, for the floor all of runc, head and cat):');
  for (const [name, c] of Object.entries(cpu)) {
    for (const what of ['run', 'exec'] as const) {
      const procs = [...new Set(c[what].flatMap((x) => Object.keys(x)))];
      const sum = median(c[what].map((x) => Object.values(x).reduce((a, b) => a + b, 0)));
      const parts = procs.map((p) => `${p} ${median(c[what].map((x) => x[p] ?? 0)).toFixed(2)}`);
      console.log(`  ${name.padEnd(8)} ${what.padEnd(4)} sum ${sum.toFixed(2)}: ${parts.join(', ')}`);
    }
  }
  const d = samples.docker;
  recordRow({ what: '200 MB on stdout of `run --rm` to /dev/null (floor: runc run piped to cat)', wharf: samples.wharfd!.run, ...(d ? { docker: d.run } : {}), floor: samples.floor!.run, goal: '≤ 1.3 floor' });
  recordRow({ what: '`exec` streaming 100 MB to /dev/null (floor: runc exec piped to cat)', wharf: samples.wharfd!.exec, ...(d ? { docker: d.exec } : {}), floor: samples.floor!.exec, goal: '≤ 0.8 docker' });
} finally {
  for (const [name, id] of Object.entries(sleepers)) await run(DOCKER_CLI, ['-H', hosts[name]!, 'rm', '-f', id], { env }).catch(() => {});
  await run('runc', ['--root', runcRoot, 'delete', '--force', 'floor-sleeper']).catch(() => {});
  await daemon.cleanup();
  await baseline?.cleanup();
  await rm(dir, { recursive: true, force: true });
}
