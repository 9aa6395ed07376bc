/**
 * Image build: a multi-stage Dockerfile of ten steps (two independent stages and a final one
 * copying from both) built on the busybox test image with `docker build -q` (classic builder),
 * cold (`--no-cache`) and again fully cached, and a context of 2,000 small files in 20
 * directories COPY'd whole, cold (its context sent, unpacked, hashed, copied and committed),
 * alternated within each iteration:
 *   wharfd    against a real wharfd
 *   docker    against a Docker engine, when BENCH_DOCKER_HOST names one (with busybox:latest)
 *   baseline  against a wharfd of another build, when BENCH_BASELINE_MAIN names its
 *             dist/daemon/main.js (a change measured before and after in one run)
 *   floor     the Docker CLI against a server that answers /build at once (bench/instant-build-server.ts):
 *             what the client costs by itself, the least a cached build can take
 * Medians and the ratios. Run as root, after `npx tsc -p .`:
 *   node dist/bench/build-bench.js [N]   (BENCH_BUILD_N, default 5)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DOCKER_CLI, loadBusybox, startDaemon } from '../test/integration/harness.js';
import { median, recordRow } from './report.js';
import { startInstantBuildServer } from './instant-build-server.js';
import { engineHosts, startBaselineDaemon } from './baseline.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_BUILD_N ?? process.argv[2] ?? 5);

const DOCKERFILE = `FROM busybox AS a
RUN mkdir -p /out && seq 1 20000 > /out/a.txt
COPY a.txt /out/
RUN sha256sum /out/* > /out/a.sum
FROM busybox AS b
ENV B=1
RUN mkdir -p /out && seq 1 20000 | rev > /out/b.txt
FROM busybox
COPY --from=a /out /a
COPY --from=b /out /b
CMD ["cat", "/a/a.sum"]
`;

const ctx = await mkdtemp(join(tmpdir(), 'build-bench-'));
await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
await writeFile(join(ctx, 'a.txt'), 'x'.repeat(1 << 20));
const manyCtx = await mkdtemp(join(tmpdir(), 'build-bench-many-'));
await writeFile(join(manyCtx, 'Dockerfile'), 'FROM busybox\nCOPY files /files\n');
for (let d = 0; d < 20; d++) {
  await mkdir(join(manyCtx, `files/d${d}`), { recursive: true });
  for (let f = 0; f < 100; f++) await writeFile(join(manyCtx, `files/d${d}/f${f}.txt`), `file ${d} ${f}\n`.repeat(1 + (f % 7)));
}
const daemon = await startDaemon();
const baseline = await startBaselineDaemon();
const sockDir = await mkdtemp(join(tmpdir(), 'build-bench-sock-'));
const instant = await startInstantBuildServer(join(sockDir, 'instant.sock'));
try {
  await loadBusybox(daemon);
  if (baseline) await loadBusybox(baseline);
  const hosts = engineHosts(daemon, baseline);
  const time = async (host: string, args: string[], dir = ctx): Promise<number> => {
    const t0 = performance.now();
    await run(DOCKER_CLI, ['-H', host, 'build', '-q', ...args, dir], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, maxBuffer: 1 << 26 });
    return performance.now() - t0;
  };
  const all: Record<string, { cold: number[]; cached: number[]; many: number[] }> = Object.fromEntries(Object.keys(hosts).map((k) => [k, { cold: [], cached: [], many: [] }]));
  const floor: number[] = [];
  for (const host of Object.values(hosts)) await time(host, ['--no-cache']); // warm-up
  for (const host of Object.values(hosts)) await time(host, ['--no-cache'], manyCtx);
  await time(instant.host, []);
  for (let i = 0; i < N; i++) {
    for (const [name, host] of Object.entries(hosts)) {
      all[name]!.cold.push(await time(host, ['--no-cache']));
      all[name]!.cached.push(await time(host, []));
      all[name]!.many.push(await time(host, ['--no-cache'], manyCtx));
    }
    floor.push(await time(instant.host, []));
  }
  console.log(`docker build, ${DOCKERFILE.trim().split('\n').length}-line multi-stage Dockerfile, ${N} alternated iterations, medians:`);
  for (const [name, r] of Object.entries(all)) {
    console.log(`  ${name.padEnd(9)} cold ${median(r.cold).toFixed(0).padStart(6)} ms   cached ${median(r.cached).toFixed(0).padStart(6)} ms   2,000 files ${median(r.many).toFixed(0).padStart(6)} ms`);
  }
  console.log(`  floor     (the Docker CLI against a server answering at once)   ${median(floor).toFixed(0).padStart(6)} ms`);
  const w = all.wharfd!;
  const dk = all.docker;
  if (dk) {
    const goal = (0.3 * median(dk.cached)).toFixed(0);
    console.log(`  ratio     cold ${(median(w.cold) / median(dk.cold)).toFixed(2)}x   cached ${(median(w.cached) / median(dk.cached)).toFixed(2)}x   2,000 files ${(median(w.many) / median(dk.many)).toFixed(2)}x   (goal: 0.6x / 0.3x / 0.6x; 0.3x cached is ${goal} ms)`);
  } else console.log('  (no Docker engine to compare with: set BENCH_DOCKER_HOST)');
  if (all.baseline) {
    const b = all.baseline;
    console.log(`  vs baseline  cold ${(median(w.cold) / median(b.cold)).toFixed(2)}x   cached ${(median(w.cached) / median(b.cached)).toFixed(2)}x   2,000 files ${(median(w.many) / median(b.many)).toFixed(2)}x`);
  }
  recordRow({ what: 'docker build, cold', wharf: w.cold, ...(dk ? { docker: dk.cold } : {}), goal: '≤ 0.6 docker' });
  recordRow({ what: 'docker build, cached', wharf: w.cached, ...(dk ? { docker: dk.cached } : {}), floor, goal: '≤ 0.3 docker' });
  recordRow({ what: 'docker build, COPY of a 2,000-file context, cold', wharf: w.many, ...(dk ? { docker: dk.many } : {}), goal: '≤ 0.6 docker' });
} finally {
  await instant.close();
  await baseline?.cleanup();
  await daemon.cleanup();
  await rm(ctx, { recursive: true, force: true });
  await rm(manyCtx, { recursive: true, force: true });
  await rm(sockDir, { recursive: true, force: true });
}
