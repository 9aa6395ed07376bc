/**
 * `--log-opt max-size` with `max-file` (issue 11): the log is rotated as Docker's json-file driver
 * does (`<log>.1` … `<log>.<max-file - 1>`, the oldest dropped, `.gz` with `compress=true`), and
 * `docker logs` (all, `--tail`) reads across the rotated files. Lines are written slowly enough
 * (usleep) that each file conmon starts is seen by the daemon before the next one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBusybox, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

async function docker(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const WRITER = 'i=1; while [ $i -le 60 ]; do printf "line-%03d-%s\\n" $i 0123456789012345678901234567890123456789012345678901234567890123456789; i=$((i+1)); usleep 50000; done';

async function runWriter(opts: string[], driver: string[] = []): Promise<{ id: string; files: string[]; lines: number[] }> {
  const id = (await docker(['run', '-d', ...driver, ...opts.flatMap((o) => ['--log-opt', o]), 'busybox', 'sh', '-c', WRITER])).trim();
  await waitFor(async () => (await docker(['inspect', '-f', '{{.State.Running}}', id])).trim() === 'false', { timeoutMs: 60_000, what: 'writer exits' });
  // The local driver's file is not shown in inspect (Docker hides it too): where the daemon keeps it.
  const logPath = (await docker(['inspect', '-f', '{{.LogPath}}', id])).trim() || join(d.dataRoot, 'containers', id, `${id}.log`);
  const base = logPath.split('/').pop()!;
  const files = (await readdir(join(logPath, '..'))).filter((f) => f.startsWith(base)).map((f) => f.slice(base.length)).sort();
  const out = await docker(['logs', id]);
  const lines = out.trim().split('\n').map((l) => Number(/^line-(\d+)-/.exec(l)?.[1]));
  return { id, files, lines };
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

describe('json-file rotation', () => {
  test('max-size=1k max-file=3 keeps three files and logs reads across them', async () => {
    const { id, files, lines } = await runWriter(['max-size=1k', 'max-file=3']);
    assert.deepEqual(files, ['', '.1', '.2'], `files: ${files.join(' ')}`);
    // A contiguous run ending at the last line, older lines dropped with the oldest file.
    assert.equal(lines.at(-1), 60);
    assert.ok(lines[0]! > 1 && lines.length >= 16, `lines ${lines.join(',')}`);
    lines.forEach((n, i) => assert.equal(n, lines[0]! + i, `gap at ${i}: ${lines.join(',')}`));
    const tail = (await docker(['logs', '--tail', '15', id])).trim().split('\n');
    assert.equal(tail.length, 15);
    assert.match(tail[0]!, /^line-046-/);
    assert.match(tail[14]!, /^line-060-/);
    await docker(['rm', id]);
  });

  test('compress=true gzips the rotated files; logs still reads them', async () => {
    const { id, files, lines } = await runWriter(['max-size=1k', 'max-file=4', 'compress=true']);
    assert.deepEqual(files, ['', '.1.gz', '.2.gz', '.3.gz'], `files: ${files.join(' ')}`);
    assert.equal(lines.at(-1), 60);
    assert.ok(lines.length >= 24, `lines ${lines.join(',')}`);
    lines.forEach((n, i) => assert.equal(n, lines[0]! + i, `gap at ${i}: ${lines.join(',')}`));
    const tail = (await docker(['logs', '--tail', '20', id])).trim().split('\n');
    assert.equal(tail.length, 20);
    assert.match(tail[0]!, /^line-041-/);
    await docker(['rm', id]);
  });
});

describe('local driver', () => {
  test("rotates as Docker's local driver does without being told: five files, the rotated ones compressed", async () => {
    // Only the size is given (decimal units, as the local driver reads them); max-file 5 and compress are its defaults.
    const { id, files, lines } = await runWriter(['max-size=1k'], ['--log-driver', 'local']);
    assert.deepEqual(files, ['', '.1.gz', '.2.gz', '.3.gz', '.4.gz'], `files: ${files.join(' ')}`);
    assert.equal(lines.at(-1), 60);
    lines.forEach((n, i) => assert.equal(n, lines[0]! + i, `gap at ${i}: ${lines.join(',')}`));
    await docker(['rm', id]);
  });

  test("options its logger refuses fail the start with the local driver's words", async () => {
    for (const [opts, message] of [
      [['max-file=1'], 'compression cannot be enabled when max file count is 1'],
      [['max-size=lots'], "invalid value for max-size: lots: invalid size: 'lots'"],
      [['compress=maybe'], 'error reading compress log option: strconv.ParseBool: parsing "maybe": invalid syntax'],
    ] as const) {
      const r = await d.docker(['run', '--rm', '--log-driver', 'local', ...opts.flatMap((o) => ['--log-opt', o]), 'busybox', 'true']);
      assert.notEqual(r.code, 0, opts.join(' '));
      assert.match(r.stderr, new RegExp(`failed to initialize logging driver: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), opts.join(' '));
    }
    // Told to keep one file uncompressed, it does.
    const one = await d.docker(['run', '--rm', '--log-driver', 'local', '--log-opt', 'max-file=1', '--log-opt', 'compress=false', 'busybox', 'echo', 'kept']);
    assert.equal(one.stdout, 'kept\n', one.stderr);
  });
});
