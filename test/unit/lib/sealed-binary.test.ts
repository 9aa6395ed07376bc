import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealedBinaryPath } from '../../../src/lib/sealed-binary.js';

const RUNC = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();

test('a sealed copy of runc: the same bytes, runnable, never writable, made again when the file changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-sealed-'));
  try {
    const bin = join(dir, 'runc');
    copyFileSync(RUNC, bin);
    const sealed = sealedBinaryPath(bin);
    assert.match(sealed, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.ok(readFileSync(sealed).equals(readFileSync(bin)), 'the copy has the bytes of the binary');
    assert.match(execFileSync(sealed, ['--version'], { encoding: 'utf8' }), /^runc version/);
    // Sealed against writes: what a container could try through /proc/self/exe of `runc init`.
    const fd = openSync(sealed, 'r+');
    try {
      assert.throws(() => writeSync(fd, Buffer.from('x'), 0, 1, 0), { code: 'EPERM' });
    } finally {
      closeSync(fd);
    }
    assert.equal(sealedBinaryPath(bin), sealed, 'one copy while the file stays the same');
    // An upgrade on disk: a copy of the new file; the old one stays open for a conmon about to run it.
    writeFileSync(bin, Buffer.concat([readFileSync(RUNC), Buffer.from('\n')]));
    const again = sealedBinaryPath(bin);
    assert.notEqual(again, sealed);
    assert.equal(readFileSync(again).length, readFileSync(RUNC).length + 1);
    assert.equal(readFileSync(sealed).length, readFileSync(RUNC).length);
    // A wrapper script runs from its own path.
    const script = join(dir, 'wrapper');
    writeFileSync(script, '#!/bin/sh\nexec runc "$@"\n', { mode: 0o755 });
    assert.equal(sealedBinaryPath(script), script);
    assert.equal(sealedBinaryPath(join(dir, 'missing')), join(dir, 'missing'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
