import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindNewNetns, unmountFilesystem } from '../../../src/lib/mounts.js';

/** A new network namespace bound on a file in a temp dir, both gone after the test `t`. */
export async function scratchNetns(t: TestContext, prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ns = join(dir, 'ns');
  writeFileSync(ns, '');
  await bindNewNetns(ns);
  t.after(async () => {
    await unmountFilesystem(ns).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return ns;
}
