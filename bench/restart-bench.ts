/**
 * Daemon restart with N running containers (SIGTERM, they keep running; start again): time until
 * /_ping answers and until the first `GET /containers/json` (which waits for the restore) answers,
 * beside the same restart with no containers. Medians of R restarts each.
 * Run as root, after `npm run build`:  node dist/bench/restart-bench.js [N] [R]
 *   (BENCH_RESTART_N containers, default 50; BENCH_RESTART_R restarts, default 5)
 */
import { request } from 'node:http';
import { loadBusybox, startDaemon, type Daemon } from '../test/integration/harness.js';

const N = Number(process.env.BENCH_RESTART_N ?? process.argv[2] ?? 50);
const R = Number(process.env.BENCH_RESTART_R ?? process.argv[3] ?? 5);

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function get(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Restarts the daemon R times: ms until /_ping answers, and until the container list does. */
async function restarts(d: Daemon): Promise<{ ping: number; list: number }> {
  const ping: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < R; i++) {
    await d.stop();
    const t0 = performance.now();
    await d.restart(); // returns once /_ping answers
    ping.push(performance.now() - t0);
    if ((await get(d.socket, '/containers/json')) !== 200) throw new Error('GET /containers/json failed');
    list.push(performance.now() - t0);
  }
  return { ping: median(ping), list: median(list) };
}

const d = await startDaemon();
try {
  await loadBusybox(d);
  const empty = await restarts(d);
  for (let i = 0; i < N; i += 5) {
    await Promise.all(
      Array.from({ length: Math.min(5, N - i) }, async (_, k) => {
        const r = await d.wharf(['run', '-d', 'busybox', 'sleep', '100000']);
        if (r.code !== 0) throw new Error(`run -d ${i + k}: ${r.stderr}`);
      }),
    );
  }
  const full = await restarts(d);
  const running = (await d.wharf(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean).length;
  if (running !== N) throw new Error(`${running} of ${N} containers running after the restarts`);
  console.log(`daemon restart (SIGTERM, start again), median of ${R}:`);
  console.log(`  ${'0 containers'.padEnd(22)} /_ping ${empty.ping.toFixed(0).padStart(5)} ms   containers/json ${empty.list.toFixed(0).padStart(5)} ms`);
  console.log(`  ${`${N} running containers`.padEnd(22)} /_ping ${full.ping.toFixed(0).padStart(5)} ms   containers/json ${full.list.toFixed(0).padStart(5)} ms`);
  await d.wharf(['rm', '-f', ...(await d.wharf(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean)]);
} finally {
  await d.cleanup();
}
