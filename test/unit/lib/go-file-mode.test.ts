import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromGoFileMode, goFileMode } from '../../../src/lib/go-file-mode.js';

test("Unix modes and Go's os.FileMode, both ways", () => {
  const cases: Array<[number, number, string, number]> = [
    // [st_mode, Go FileMode, type, permission bits]
    [0o100644, 0o644, 'file', 0o644],
    [0o104755, 2 ** 23 + 0o755, 'file', 0o4755],
    [0o041777, 2 ** 31 + 2 ** 20 + 0o777, 'directory', 0o1777],
    [0o042755, 2 ** 31 + 2 ** 22 + 0o755, 'directory', 0o2755],
    [0o120777, 2 ** 27 + 0o777, 'symlink', 0o777],
    [0o020666, 2 ** 26 + 2 ** 21 + 0o666, 'char', 0o666],
    [0o060660, 2 ** 26 + 0o660, 'block', 0o660],
    [0o010600, 2 ** 25 + 0o600, 'fifo', 0o600],
    [0o140755, 2 ** 24 + 0o755, 'socket', 0o755],
  ];
  for (const [unix, go, type, perm] of cases) {
    assert.equal(goFileMode(unix), go, unix.toString(8));
    assert.deepEqual(fromGoFileMode(go), { type, perm }, unix.toString(8));
  }
  assert.equal(fromGoFileMode(2 ** 19 + 0o644).type, 'irregular');
});
