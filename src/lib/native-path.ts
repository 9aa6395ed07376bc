import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A file scripts/bundle-daemon.mjs builds into dist/daemon/ (the spawn helper, the addons):
 * beside the bundle when this code runs from it, else the bundle's when it runs from tsc's
 * output (dist/src/lib/). Undefined when it is not built.
 */
export function builtNative(name: string): string | undefined {
  return [`./${name}`, `../../daemon/${name}`].map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
}

const addons = new Map<string, unknown>();

/**
 * A Node-API addon scripts/bundle-daemon.mjs built (builtNative), loaded once; null when it is
 * not built or does not load (another libc, a damaged build): each caller has a way without it.
 */
export function loadAddon<T>(name: string): T | null {
  if (!addons.has(name)) {
    const path = builtNative(name);
    const mod = { exports: {} as T };
    try {
      if (path) process.dlopen(mod, path);
      addons.set(name, path ? mod.exports : null);
    } catch {
      addons.set(name, null);
    }
  }
  return addons.get(name) as T | null;
}
