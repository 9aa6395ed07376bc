/**
 * The bench's shared figures: medians and spreads, and the rows of the one summary table that
 * `npm run bench` prints at the end (bench/summary.ts). Each bench prints its own detail and
 * appends its rows, as JSON lines, to the file BENCH_ROWS names (scripts/bench.sh sets it).
 */
import { appendFileSync, readFileSync } from 'node:fs';

export function quantile(a: number[], q: number): number {
  const s = [...a].sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
}

export const median = (a: number[]) => quantile(a, 0.5);

/** One line of the summary: the samples of each engine (ms unless `unit` says otherwise). */
export interface BenchRow {
  what: string;
  wharf: number[];
  /** The Docker engine (or the Docker CLI, as the row says), when one was measured. */
  docker?: number[];
  /** What the host itself needs for the same work (runc run, gzip | tar, node -e 0…). */
  floor?: number[];
  unit?: string;
  /** The goal, as text ("≤ 0.25 docker"). */
  goal?: string;
}

export function recordRow(row: BenchRow): void {
  const file = process.env.BENCH_ROWS;
  if (file) appendFileSync(file, JSON.stringify(row) + '\n');
}

export function readRows(file: string): BenchRow[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BenchRow);
}

function cell(s: number[] | undefined, unit: string): string {
  if (!s || s.length === 0) return '—';
  const p = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `${p(median(s))} ${unit} (${p(quantile(s, 0.25))}–${p(quantile(s, 0.75))})`;
}

const ratio = (a: number[] | undefined, b: number[] | undefined) => (a?.length && b?.length ? (median(a) / median(b)).toFixed(2) : '—');

/** The summary table, as Markdown (so the README can show it as it is printed). */
export function formatTable(rows: BenchRow[]): string {
  const head = ['what', 'wharf', 'docker engine', 'floor', 'wharf/docker', 'wharf/floor', 'goal'];
  const body = rows.map((r) => {
    const unit = r.unit ?? 'ms';
    return [r.what, cell(r.wharf, unit), cell(r.docker, unit), cell(r.floor, unit), ratio(r.wharf, r.docker), ratio(r.wharf, r.floor), r.goal ?? ''];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
