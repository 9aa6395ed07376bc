/**
 * `npm run bench`: the cost of `run --rm busybox true`, alternated in one run:
 *   wharf   `wharf run --rm busybox true` against a real wharfd
 *   docker  the real Docker CLI's `docker run --rm busybox true` against the same wharfd
 *   runc    `runc run` of a prepared bundle of the same image (the floor)
 * and, for the networking cost, `docker run --rm` on the default bridge versus `--network none`.
 * Prints medians and ratios to the floor. Run as root, after `npx tsc -p .`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSpec, detectCgroupVersion } from '../src/runtime/spec.js';
import { CLI_MAIN, DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { makeBusyboxRootfs } from '../test/integration/runtime-rootfs.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_N ?? process.argv[2] ?? 20);

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, { env });
  return performance.now() - t0;
}

const daemon = await startDaemon();
const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
try {
  await loadBusybox(daemon);
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
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up
  for (let i = 0; i < N; i++) for (const [name, fn] of Object.entries(cases)) samples[name]!.push(await fn());

  const floor = median(samples['runc run (floor)']!);
  console.log(`run --rm busybox true, ${N} alternated iterations, medians:`);
  for (const [name, s] of Object.entries(samples)) {
    console.log(`  ${name.padEnd(22)} ${median(s)!.toFixed(1).padStart(7)} ms   ${(median(s)! / floor!).toFixed(2)}x floor`);
  }
  const bridgeCost = median(samples.docker!)! - median(samples['docker --network none']!)!;
  console.log(`  default bridge adds    ${bridgeCost.toFixed(1).padStart(7)} ms over --network none`);
} finally {
  await daemon.cleanup();
  await rm(dir, { recursive: true, force: true });
}
