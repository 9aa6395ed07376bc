/**
 * Whether read-only mounts can be made recursively read-only (the OCI mount option `rro`), as
 * moby's supportsRecursivelyReadOnly decides: a kernel with mount_setattr (5.12) and a runtime
 * whose `features` list the option. Checked once per runtime; the answer is moby's error text,
 * or undefined when `rro` can be used.
 */
import { release } from 'node:os';
import { run } from '../lib/run.js';

const checked = new Map<string, Promise<string | undefined>>();

export function kernelHasMountSetattr(kernel = release()): boolean {
  const [major = 0, minor = 0] = kernel.split(/[.-]/).map(Number);
  return major > 5 || (major === 5 && minor >= 12);
}

async function check(runtimePath: string, runtimeName: string): Promise<string | undefined> {
  if (!kernelHasMountSetattr()) return 'rro is not supported: kernel does not have mount_setattr (kernel is older than 5.12?)';
  let features: { mountOptions?: unknown };
  try {
    features = JSON.parse(await run(runtimePath, ['features'])) as { mountOptions?: unknown };
  } catch {
    return `rro is not supported by runtime "${runtimeName}": OCI features struct is not available`;
  }
  return Array.isArray(features.mountOptions) && features.mountOptions.includes('rro') ? undefined : `rro is not supported by runtime "${runtimeName}"`;
}

export function recursiveReadOnlyError(runtimePath: string, runtimeName = 'runc'): Promise<string | undefined> {
  let p = checked.get(runtimePath);
  if (!p) {
    p = check(runtimePath, runtimeName);
    checked.set(runtimePath, p);
  }
  return p;
}
