/**
 * chmod(1) modes as COPY --chmod applies them (file-mode.ts): checked against the system's own
 * chmod on real files and directories (umask 0, as BuildKit applies them), and the BSD rules
 * where GNU's chmod differs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModeChange } from '../../../src/lib/file-mode.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-file-mode-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** What the system's chmod makes of `mode` on a fresh file or directory of `start` bits. */
function systemChmod(mode: string, start: number, isDir: boolean): number {
  const p = join(dir, isDir ? 'd' : 'f');
  rmSync(p, { recursive: true, force: true });
  if (isDir) mkdirSync(p);
  else writeFileSync(p, '');
  chmodSync(p, start);
  execFileSync('sh', ['-c', 'umask 0 && chmod -- "$0" "$1"', mode, p]);
  return statSync(p).mode & 0o7777;
}

test('symbolic and octal modes as chmod(1) applies them, on files and directories', () => {
  const modes = ['u+x', 'g-w', 'o=r', 'a=rX', 'u=rwx,g=rx,o=', '+x', '-w', '=r', 'ug+rw', 'go-rwx', 'a+X', 'u+s', 'g+s', '+t', 'u=rw,go=u', 'g=u-w', 'o+g', 'u-x+w', 'a-rwx,u+r', 'a=', '644', '0755', '7777', '0'];
  for (const start of [0o644, 0o600, 0o755, 0o4711, 0o000, 0o751]) {
    for (const isDir of [false, true]) {
      // GNU's chmod keeps a directory's set-id bits unless told otherwise; BSD's (and BuildKit's) does not: below.
      if (isDir && start & 0o6000) continue;
      for (const m of modes) {
        assert.equal(ModeChange.parse(m).apply(start, isDir).toString(8), systemChmod(m, start, isDir).toString(8), `${m} on ${isDir ? 'a directory' : 'a file'} of ${start.toString(8)}`);
      }
    }
  }
});

test('BSD rules where they differ from GNU: X looks at the mode before the change, s and t need a class other than o, = leaves the sticky bit unless t is named, a directory keeps no set-id bit', () => {
  assert.equal(ModeChange.parse('a-x,a+X').apply(0o744, false), 0o755, 'X: the file was executable before the change');
  assert.equal(ModeChange.parse('o+s').apply(0o644, false), 0o644);
  assert.equal(ModeChange.parse('o+t').apply(0o755, true), 0o755);
  assert.equal(ModeChange.parse('u+t').apply(0o755, true), 0o1755);
  assert.equal(ModeChange.parse('a=rX').apply(0o4711, true), 0o555, "a directory's set-id bits are cleared by =");
  assert.equal(ModeChange.parse('755').apply(0o2711, true), 0o755);
  assert.equal(ModeChange.parse('o=r').apply(0o1777, true), 0o1774, 'the sticky bit goes only when t is named');
  assert.equal(ModeChange.parse('a=rwt').apply(0o1777, true), 0o1666);
});

test('what chmod(1) refuses', () => {
  for (const bad of ['', 'u', 'x+r', 'u+q', 'a,b', 'u+r,', ',u+r']) assert.throws(() => ModeChange.parse(bad), SyntaxError, bad);
  for (const bad of ['10000', '8', '64a', '0x1']) assert.throws(() => ModeChange.parse(bad), RangeError, bad);
});
