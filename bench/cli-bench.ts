/**
 * CLI start-up: `wharf version` and `wharf ps` beside the Docker CLI's `docker version` and
 * `docker ps` against the same wharfd, with `node -e 0` (node's own start) as the floor of any
 * node CLI. Alternated, medians, the spread (25th–75th percentile) and wharf/docker ratios.
 * Run as root, after `npm run build`:  node dist/bench/cli-bench.js [N]   (BENCH_CLI_N, default 30)
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI_MAIN, DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { recordRow } from './report.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_CLI_N ?? process.argv[2] ?? 30);

const quantile = (a: number[], q: number) => {
  const s = [...a].sort((x, y) => x - y);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
};

const daemon = await startDaemon();
try {
  await loadBusybox(daemon);
  await daemon.wharf(['create', '--name', 'listed', 'busybox', 'true']); // so that ps -a has a row
  // NODE_EXTRA_CA_CERTS (set in some sandboxes) makes every node start parse a CA bundle; it is not
  // part of what wharf costs.
  const { NODE_EXTRA_CA_CERTS: _ca, ...base } = process.env;
  void _ca;
  const env = { ...base, DOCKER_HOST: daemon.host, WHARF_HOST: daemon.host, DOCKER_CONFIG: join(daemon.root, 'docker-config') };
  const timed = async (cmd: string, args: string[]) => {
    const t0 = performance.now();
    await run(cmd, args, { env });
    return performance.now() - t0;
  };
  const cases: Record<string, () => Promise<number>> = {
    'node -e 0 (floor)': () => timed(process.execPath, ['-e', '0']),
    'wharf version': () => timed(process.execPath, [CLI_MAIN, 'version']),
    'docker version': () => timed(DOCKER_CLI, ['version']),
    'wharf ps -a': () => timed(process.execPath, [CLI_MAIN, 'ps', '-a']),
    'docker ps -a': () => timed(DOCKER_CLI, ['ps', '-a']),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) await fn(); // warm-up
  for (let i = 0; i < N; i++) for (const [name, fn] of Object.entries(cases)) samples[name]!.push(await fn());

  const med = (name: string) => quantile(samples[name]!, 0.5);
  console.log(`CLI start-up, ${N} alternated runs, median (25th-75th percentile):`);
  for (const [name, s] of Object.entries(samples)) {
    const vs = name.startsWith('wharf') ? `   ${(med(name) / med(name.replace('wharf', 'docker'))).toFixed(2)}x docker` : '';
    console.log(`  ${name.padEnd(20)} ${med(name).toFixed(1).padStart(7)} ms  (${quantile(s, 0.25).toFixed(1)}-${quantile(s, 0.75).toFixed(1)})${vs}`);
  }
  for (const cmd of ['version', 'ps -a']) {
    recordRow({ what: `\`wharf ${cmd}\` (docker: \`docker ${cmd}\`; floor: node -e 0)`, wharf: samples[`wharf ${cmd}`]!, docker: samples[`docker ${cmd}`]!, floor: samples['node -e 0 (floor)']!, goal: '≤ 2.0 docker' });
  }
} finally {
  await daemon.cleanup();
}
