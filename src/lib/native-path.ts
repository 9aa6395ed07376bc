import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A file scripts/bundle-daemon.mjs builds into dist/daemon/ (the spawn helper, the malloc_trim
 * addon): beside the bundle when this code runs from it, else the bundle's when it runs from tsc's
 * output (dist/src/lib/). Undefined when it is not built.
 */
export function builtNative(name: string): string | undefined {
  return [`./${name}`, `../../daemon/${name}`].map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
}
