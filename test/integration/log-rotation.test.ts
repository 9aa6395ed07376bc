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

async function runWriter(opts: string[]): Promise<{ id: string; files: string[]; lines: number[] }> {
  const id = (await docker(['run', '-d', ...opts.flatMap((o) => ['--log-opt', o]), 'busybox', 'sh', '-c', WRITER])).trim();
  await waitFor(async () => (await docker(['inspect', '-f', '{{.State.Running}}', id])).trim() === 'false', { timeoutMs: 60_000, what: 'writer exits' });
  const logPath = (await docker(['inspect', '-f', '{{.LogPath}}', id])).trim();
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
