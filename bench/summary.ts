/**
 * Prints the one table of every measure the benches recorded (bench/report.ts): medians with
 * the 25th–75th percentile, the ratios to the Docker engine and to the floor, and the load of the
 * machine (the benches share it with whatever else runs).
 *   node dist/bench/summary.js <rows file>
 */
import { loadavg } from 'node:os';
import { formatTable, readRows } from './report.js';

const file = process.argv[2] ?? process.env.BENCH_ROWS;
if (!file) throw new Error('usage: summary.js <rows file>');
const rows = readRows(file);
const [l1, l5] = loadavg();
console.log(`\nSummary (medians, 25th–75th percentile; load average ${l1!.toFixed(2)} / ${l5!.toFixed(2)} at the end):\n`);
console.log(formatTable(rows));
if (!rows.some((r) => r.docker?.length)) console.log('\n(no Docker engine measured: set BENCH_DOCKER_HOST, or install docker.io for scripts/bench.sh to start one)');
