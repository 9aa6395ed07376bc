#!/usr/bin/env node
/**
 * Runs compiled test files with node's test runner, several at a time, and prints one summary.
 *
 *   node scripts/run-tests.mjs [--name TIER] [--jobs N] [--timeout S] [--tap FILE] [--record] PATH...
 *
 * PATH is a compiled test file or a directory searched for *.test.js. Each file runs in its own
 * `node --test` process; its spec output is printed whole when it ends (never interleaved). Files
 * listed in SERIAL touch state of the whole host and run alone, after the parallel ones. Files run
 * longest first (test/durations.json, refreshed by `--record`) so the last slot does not hold a
 * long file on its own. A file still running after --timeout seconds gets SIGTERM (its after hooks
 * and signal handlers run), then SIGKILL 30 s later, and counts as failed. SIGINT or SIGTERM to this
 * script is passed on to the running files the same way, so their cleanup still happens.
 *
 * The last lines are `<tier>: PASS|FAIL: N tests, N passed, N failed, …` and the exit code is
 * non-zero when any test or file failed; before them, each failed file's failing tests are printed
 * again, with their errors.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const DURATIONS = join(ROOT, 'test/durations.json');

/**
 * Integration files that change state shared by the whole host, so nothing may run beside them:
 * docker-coexist sets the host's FORWARD policy to DROP and lays a docker0 bridge on the first free
 * default pool (172.17.0.0/16), which every other daemon would then route around or through.
 * ipv6-only saves the host's IPv6 forwarding and ip6tables FORWARD policy and puts them back at
 * its end, as ipv6 does: beside ipv6 one of them would save what the other's daemon had set.
 */
const SERIAL = new Set(['docker-coexist.test.js', 'ipv6-only.test.js']);

function parseArgs(argv) {
  const opts = { jobs: 2, timeout: 900, tap: '', name: 'tests', record: false, paths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--jobs') opts.jobs = Math.max(1, Number(value()) || 1);
    else if (a === '--timeout') opts.timeout = Number(value());
    else if (a === '--tap') opts.tap = value();
    else if (a === '--name') opts.name = value();
    else if (a === '--record') opts.record = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else opts.paths.push(a);
  }
  return opts;
}

function testFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  const out = [];
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function loadDurations() {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

/** Test processes still running, for passing on SIGINT/SIGTERM. */
const running = new Set();
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    console.log(`run-tests: ${sig}: stopping ${running.size} running test file(s)`);
    for (const c of running) c.kill('SIGTERM');
    setTimeout(() => {
      for (const c of running) c.kill('SIGKILL');
      process.exit(130);
    }, 30_000).unref();
    if (running.size === 0) process.exit(130);
  });
}

const key = (file) => relative(join(ROOT, 'dist'), resolve(file));
const COUNTS = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** The last `# tests N` … block of a TAP stream (node prints it once, at the end). */
function tapCounts(tap) {
  const c = {};
  for (const name of COUNTS) {
    const all = [...tap.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))];
    c[name] = all.length ? Number(all[all.length - 1][1]) : undefined;
  }
  return c;
}

function runFile(file, opts, tmp) {
  const tapFile = join(tmp, `${basename(file)}.${Math.random().toString(36).slice(2)}.tap`);
  const args = [
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    file,
  ];
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const out = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => out.push(c));
    let timedOut = false;
    let killer;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    }, opts.timeout * 1000);
    child.on('close', (code, signal) => {
      running.delete(child);
      if (interrupted && running.size === 0) process.exit(130);
      clearTimeout(timer);
      clearTimeout(killer);
      let tap = '';
      try {
        tap = readFileSync(tapFile, 'utf8');
      } catch {
        // the runner died before writing it
      }
      resolvePromise({
        file,
        code: code ?? 128,
        signal,
        timedOut,
        seconds: (Date.now() - started) / 1000,
        output: Buffer.concat(out).toString(),
        counts: tapCounts(tap),
      });
    });
  });
}

const FAILURE_REPORT_MAX = 8000;

/** The spec reporter's closing `✖ failing tests:` section of a file's output (or its tail if there is none), at most FAILURE_REPORT_MAX characters. */
function failureReport(output) {
  const at = output.lastIndexOf('\u2716 failing tests:');
  const section = at >= 0 ? output.slice(at) : output.slice(-FAILURE_REPORT_MAX);
  return section.length > FAILURE_REPORT_MAX ? `${section.slice(0, FAILURE_REPORT_MAX)}\n[... ${section.length - FAILURE_REPORT_MAX} more characters in the file's output above]` : section;
}

/** Runs `files` with at most `jobs` at once, longest (by `durations`) first; calls `done` per file. */
async function pool(files, jobs, opts, tmp, done) {
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) done(await runFile(f, opts, tmp));
  };
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const files = [...new Set(opts.paths.flatMap((p) => testFiles(p)))];
  if (files.length === 0) {
    console.log(`${opts.name}: FAIL: no test files in ${opts.paths.join(' ')}`);
    process.exit(1);
  }
  const durations = loadDurations();
  // Unknown files count as long: a new file is more likely slow than not.
  const cost = (f) => durations[key(f)] ?? 1e6;
  const byCost = (a, b) => cost(b) - cost(a) || a.localeCompare(b);
  const parallel = files.filter((f) => !SERIAL.has(basename(f))).sort(byCost);
  const serial = files.filter((f) => SERIAL.has(basename(f))).sort(byCost);

  const tmp = mkdtempSync(join(tmpdir(), 'wharf-run-tests-'));
  const results = [];
  const started = Date.now();
  const done = (r) => {
    results.push(r);
    const status = r.timedOut ? `TIMED OUT after ${opts.timeout} s` : r.code === 0 ? 'ok' : `FAILED (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`;
    process.stdout.write(`\n=== ${key(r.file)}: ${status} (${r.seconds.toFixed(1)} s)\n${r.output}`);
  };
  try {
    await pool(parallel, opts.jobs, opts, tmp, done);
    await pool(serial, 1, opts, tmp, done);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const total = Object.fromEntries(COUNTS.map((n) => [n, 0]));
  const broken = [];
  for (const r of results) {
    for (const n of COUNTS) total[n] += r.counts[n] ?? 0;
    // A file that exited non-zero without a failing test (crash, timeout, no TAP) still fails the run.
    if (r.code !== 0 && !(r.counts.fail > 0)) {
      total.fail += 1;
      broken.push(key(r.file));
    } else if (r.counts.tests === undefined) {
      broken.push(key(r.file));
    }
  }
  if (opts.record) {
    const next = { ...durations };
    for (const r of results) next[key(r.file)] = Math.round(r.seconds * 10) / 10;
    const sorted = Object.fromEntries(Object.entries(next).sort(([a], [b]) => a.localeCompare(b)));
    writeFileSync(DURATIONS, `${JSON.stringify(sorted, null, 2)}\n`);
  }

  const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 8);
  console.log(`\n${opts.name}: ${results.length} files, ${opts.jobs} at a time, ${Math.round((Date.now() - started) / 1000)} s; slowest:`);
  for (const r of slowest) console.log(`  ${r.seconds.toFixed(1).padStart(6)} s  ${key(r.file)}`);
  const failedFiles = results.filter((r) => r.code !== 0).map((r) => key(r.file));
  // Again at the end, where a CI log's tail shows it: what failed and why, without searching.
  for (const r of results.filter((x) => x.code !== 0)) console.log(`\n${opts.name}: ${key(r.file)}:\n${failureReport(r.output)}`);
  if (failedFiles.length) console.log(`${opts.name}: failed files: ${failedFiles.join(' ')}`);
  if (broken.length) console.log(`${opts.name}: files that crashed or reported no tests: ${broken.join(' ')}`);
  const ok = failedFiles.length === 0 && total.fail === 0;
  const line = `${total.tests} tests, ${total.pass} passed, ${total.fail} failed, ${total.cancelled} cancelled, ${total.skipped} skipped, ${total.todo} todo`;
  console.log(`${opts.name}: ${ok ? 'PASS' : 'FAIL'}: ${line}`);
  if (opts.tap) writeFileSync(opts.tap, `${COUNTS.map((n) => `# ${n} ${total[n]}`).join('\n')}\n`);
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`run-tests: ${err.message}`);
  process.exit(2);
});
