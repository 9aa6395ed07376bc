/**
 * Daemon restart with N running containers (SIGTERM, they keep running; start again): time until
 * /_ping answers and until the first `GET /containers/json` (which waits for the restore) answers,
 * beside a second daemon with no containers, restarted alternately. Medians of R restarts each.
 * Run as root, after `npm run build`:  node dist/bench/restart-bench.js [N] [R]
 *   (BENCH_RESTART_N containers, default 50; BENCH_RESTART_R restarts, default 5)
 */
import { request } from 'node:http';
import { loadBusybox, startDaemon, type Daemon } from '../test/integration/harness.js';
import { recordRow } from './report.js';

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

/** Restarts the daemon: ms until /_ping answers, and until the container list does. */
async function restart(d: Daemon, into: { ping: number[]; list: number[] }): Promise<void> {
  await d.stop();
  const t0 = performance.now();
  await d.restart(); // returns once /_ping answers
  into.ping.push(performance.now() - t0);
  if ((await get(d.socket, '/containers/json')) !== 200) throw new Error('GET /containers/json failed');
  into.list.push(performance.now() - t0);
}

const empty = await startDaemon();
const d = await startDaemon();
try {
  await loadBusybox(d);
  for (let i = 0; i < N; i += 5) {
    await Promise.all(
      Array.from({ length: Math.min(5, N - i) }, async (_, k) => {
        const r = await d.wharf(['run', '-d', 'busybox', 'sleep', '100000']);
        if (r.code !== 0) throw new Error(`run -d ${i + k}: ${r.stderr}`);
      }),
    );
  }
  const e = { ping: [] as number[], list: [] as number[] };
  const f = { ping: [] as number[], list: [] as number[] };
  for (let i = 0; i < R; i++) {
    await restart(empty, e);
    await restart(d, f);
  }
  const running = (await d.wharf(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean).length;
  if (running !== N) throw new Error(`${running} of ${N} containers running after the restarts`);
  console.log(`daemon restart (SIGTERM, start again), alternated, median of ${R}:`);
  for (const [what, t] of [['0 containers', e], [`${N} running containers`, f]] as const) {
    console.log(`  ${what.padEnd(22)} /_ping ${median(t.ping).toFixed(0).padStart(5)} ms   containers/json ${median(t.list).toFixed(0).padStart(5)} ms`);
  }
  recordRow({ what: `daemon restart until /_ping, ${N} running containers (floor: none)`, wharf: f.ping, floor: e.ping, goal: '≤ 500 ms' });
  await d.wharf(['rm', '-f', ...(await d.wharf(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean)]);
} finally {
  await d.cleanup();
  await empty.cleanup();
}
