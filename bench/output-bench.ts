/**
 * Output throughput through the engine, with the real Docker CLI writing to /dev/null:
 *   run    `docker run --rm --network none busybox head -c 200M /dev/zero`
 *   exec   `docker exec <running container> head -c 100M /dev/zero`
 * wharfd beside the Docker engine BENCH_DOCKER_HOST names and beside the floor: the same command
 * under `runc run` / `runc exec` of a prepared bundle, its output through a pipe into
 * `cat > /dev/null` (one copy, no engine). Alternated per iteration, medians.
 * Run as root, after `npx tsc -p .`:  node dist/bench/output-bench.js [N]   (BENCH_OUTPUT_N, default 5)
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSpec, detectCgroupVersion } from '../src/runtime/spec.js';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { makeBusyboxRootfs } from '../test/integration/runtime-rootfs.js';
import { median, recordRow } from './report.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_OUTPUT_N ?? process.argv[2] ?? 5);
const RUN_BYTES = 200 * 1024 * 1024;
const EXEC_BYTES = 100 * 1024 * 1024;

/** ms until `cmd args` exits, its stdout going to /dev/null; rejects on a non-zero exit. */
function timedQuiet(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

const daemon = await startDaemon();
const dir = await mkdtemp(join(tmpdir(), 'wharf-output-bench-'));
const runcRoot = join(dir, 'runc');
const hosts: Record<string, string> = { wharfd: daemon.host };
if (process.env.BENCH_DOCKER_HOST) hosts.docker = process.env.BENCH_DOCKER_HOST;
const sleepers: Record<string, string> = {};
const env = { ...process.env, DOCKER_CONFIG: join(daemon.root, 'docker-config') };
try {
  await loadBusybox(daemon);
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
  const cases: Record<string, { run: () => Promise<number>; exec: () => Promise<number> }> = {};
  for (const [name, host] of Object.entries(hosts)) {
    cases[name] = {
      run: () => timedQuiet(DOCKER_CLI, ['-H', host, 'run', '--rm', '--network', 'none', 'busybox', 'head', '-c', String(RUN_BYTES), '/dev/zero'], env),
      exec: () => timedQuiet(DOCKER_CLI, ['-H', host, 'exec', sleepers[name]!, 'head', '-c', String(EXEC_BYTES), '/dev/zero'], env),
    };
  }
  cases.floor = {
    run: () => timedQuiet('sh', ['-c', 'runc --root "$1" run --bundle "$2" "$3" | cat > /dev/null', 'sh', runcRoot, runBundle, `floor-run-${k++}`], env),
    exec: () => timedQuiet('sh', ['-c', `runc --root "$1" exec floor-sleeper head -c ${EXEC_BYTES} /dev/zero | cat > /dev/null`, 'sh', runcRoot], env),
  };
  const samples: Record<string, { run: number[]; exec: number[] }> = {};
  for (const [name, c] of Object.entries(cases)) {
    samples[name] = { run: [], exec: [] };
    await c.run(); // warm-up
    await c.exec();
  }
  for (let i = 0; i < N; i++) {
    for (const [name, c] of Object.entries(cases)) {
      samples[name]!.run.push(await c.run());
      samples[name]!.exec.push(await c.exec());
    }
  }
  console.log(`output to /dev/null through the Docker CLI, ${N} alternated iterations, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(8)} run --rm, 200 MB ${median(s.run).toFixed(0).padStart(6)} ms   exec, 100 MB ${median(s.exec).toFixed(0).padStart(6)} ms`);
  }
  const d = samples.docker;
  recordRow({ what: '200 MB on stdout of `run --rm` to /dev/null (floor: runc run piped to cat)', wharf: samples.wharfd!.run, ...(d ? { docker: d.run } : {}), floor: samples.floor!.run, goal: '≤ 1.3 floor' });
  recordRow({ what: '`exec` streaming 100 MB to /dev/null (floor: runc exec piped to cat)', wharf: samples.wharfd!.exec, ...(d ? { docker: d.exec } : {}), floor: samples.floor!.exec, goal: '≤ 0.8 docker' });
} finally {
  for (const [name, id] of Object.entries(sleepers)) await run(DOCKER_CLI, ['-H', hosts[name]!, 'rm', '-f', id], { env }).catch(() => {});
  await run('runc', ['--root', runcRoot, 'delete', '--force', 'floor-sleeper']).catch(() => {});
  await daemon.cleanup();
  await rm(dir, { recursive: true, force: true });
}
