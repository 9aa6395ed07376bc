/**
 * `npm run bench`: the cost of `run --rm busybox true`, alternated in one run:
 *   wharf   `wharf run --rm busybox true` against a real wharfd
 *   docker  the real Docker CLI's `docker run --rm busybox true` against the same wharfd
 *   runc    `runc run` of a prepared bundle of the same image (the floor)
 * and, for the networking cost, `docker run --rm` on the default bridge versus `--network none`.
 * With BENCH_DOCKER_HOST (a Docker engine with busybox:latest) the Docker CLI's run there too, and
 * with BENCH_BASELINE_MAIN (another build's dist/daemon/main.js) the same run against a wharfd
 * of that build, to measure a change before and after in one alternated run.
 * Prints medians and ratios to the floor. Run as root, after `npx tsc -p .`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSpec, detectCgroupVersion } from '../src/runtime/spec.js';
import { CLI_MAIN, DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { median, recordRow } from './report.js';
import { makeBusyboxRootfs } from '../test/integration/runtime-rootfs.js';
import { startBaselineDaemon } from './baseline.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_N ?? process.argv[2] ?? 20);

const DOCKER_HOST = process.env.BENCH_DOCKER_HOST;

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, { env });
  return performance.now() - t0;
}

const daemon = await startDaemon();
const baseline = await startBaselineDaemon();
const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
try {
  await loadBusybox(daemon);
  if (baseline) await loadBusybox(baseline);
  // NODE_EXTRA_CA_CERTS (set in some sandboxes) makes every node start parse a CA bundle (~40 ms
  // here); it is not part of what wharf costs, so the wharf CLI runs without it.
  const { NODE_EXTRA_CA_CERTS: _ca, ...base } = process.env;
  void _ca;
  const env = { ...base, DOCKER_HOST: daemon.host, WHARF_HOST: daemon.host, DOCKER_CONFIG: join(daemon.root, 'docker-config') };

  const rootfs = await makeBusyboxRootfs(dir);
  const bundle = join(dir, 'bundle');
  await mkdir(bundle, { recursive: true });
  const cgroupVersion = await detectCgroupVersion();
  await writeFile(
    join(bundle, 'config.json'),
    JSON.stringify(
      buildSpec({
        id: 'bench', rootfs, config: {}, hostConfig: {}, args: ['true'], env: ['PATH=/bin'], cwd: '/', hostname: 'bench',
        user: { uid: 0, gid: 0, additionalGids: [] }, network: { kind: 'new' }, cgroupVersion,
      }),
    ),
  );

  const cases: Record<string, () => Promise<number>> = {
    wharf: () => timed(process.execPath, [CLI_MAIN, 'run', '--rm', 'busybox', 'true'], env),
    docker: () => timed(DOCKER_CLI, ['run', '--rm', 'busybox', 'true'], env),
    'runc run (floor)': (() => {
      let i = 0;
      return () => timed('runc', ['--root', join(dir, 'runc'), 'run', '--bundle', bundle, `bench${i++}`], env);
    })(),
    'docker --network none': () => timed(DOCKER_CLI, ['run', '--rm', '--network', 'none', 'busybox', 'true'], env),
  };
  if (DOCKER_HOST) cases['docker engine'] = () => timed(DOCKER_CLI, ['-H', DOCKER_HOST, 'run', '--rm', 'busybox', 'true'], env);
  if (baseline) cases['baseline wharfd'] = () => timed(DOCKER_CLI, ['-H', baseline.host, 'run', '--rm', 'busybox', 'true'], env);
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up
  for (let i = 0; i < N; i++) for (const [name, fn] of Object.entries(cases)) samples[name]!.push(await fn());

  const floor = median(samples['runc run (floor)']!);
  console.log(`run --rm busybox true, ${N} alternated iterations, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(22)} ${median(s)!.toFixed(1).padStart(7)} ms   ${(median(s)! / floor!).toFixed(2)}x floor`);
  }
  const bridgeCost = median(samples.docker!) - median(samples['docker --network none']!);
  console.log(`  default bridge adds    ${bridgeCost.toFixed(1).padStart(7)} ms over --network none`);
  recordRow({
    what: '`docker run --rm busybox true` (Docker CLI), engine',
    wharf: samples.docker!,
    ...(DOCKER_HOST ? { docker: samples['docker engine']! } : {}),
    floor: samples['runc run (floor)']!,
    goal: '≤ 0.25 docker, ≤ 1.5 floor',
  });
  if (baseline) {
    recordRow({ what: '`docker run --rm busybox true`, baseline build', wharf: samples['baseline wharfd']!, ...(DOCKER_HOST ? { docker: samples['docker engine']! } : {}), floor: samples['runc run (floor)']! });
  }
  recordRow({ what: '`run --rm` through the wharf CLI (docker: the Docker CLI, same wharfd)', wharf: samples.wharf!, docker: samples.docker!, goal: '≤ 1.0' });
} finally {
  await daemon.cleanup();
  await baseline?.cleanup();
  await rm(dir, { recursive: true, force: true });
}
