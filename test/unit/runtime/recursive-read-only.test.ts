/** When read-only mounts may be `rro`: the kernel's release and the runtime's `features`, with moby's texts. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelHasMountSetattr, recursiveReadOnlyError } from '../../../src/runtime/recursive-read-only.js';

let dir = '';
/** A runtime whose `features` prints `output` and exits with `code`. */
async function runtime(name: string, output: string, code = 0): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n[ "$1" = features ] || exit 2\ncat <<'JSON'\n${output}\nJSON\nexit ${code}\n`);
  await chmod(path, 0o755);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rro-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('mount_setattr came with Linux 5.12', () => {
  assert.equal(kernelHasMountSetattr('5.11.22-generic'), false);
  assert.equal(kernelHasMountSetattr('4.19.0'), false);
  assert.equal(kernelHasMountSetattr('5.12.0'), true);
  assert.equal(kernelHasMountSetattr('6.1.0-18-amd64'), true);
});

test("a runtime's features decide, with moby's texts when they do not allow rro", { skip: !kernelHasMountSetattr() && 'kernel older than 5.12' }, async () => {
  assert.equal(await recursiveReadOnlyError(await runtime('with-rro', '{"mountOptions":["ro","rro","rbind"]}'), 'with-rro'), undefined);
  assert.equal(await recursiveReadOnlyError(await runtime('without', '{"mountOptions":["ro","rbind"]}'), 'without'), 'rro is not supported by runtime "without"');
  assert.equal(
    await recursiveReadOnlyError(await runtime('old', 'runc: unknown command "features"', 1), 'old'),
    'rro is not supported by runtime "old": OCI features struct is not available',
  );
});
