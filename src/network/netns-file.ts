/**
 * A container's network namespace as a file: an nsfs bind mount at `<execRoot>/netns/<id>`, made
 * before the runtime creates the container. runc then joins it (the spec names the path) while
 * the daemon plumbs its interfaces at the same time, instead of plumbing after `runc create`
 * returned a pid; and Docker's inspect shows such a path as SandboxKey too.
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bindNewNetns, unmountFilesystem } from '../lib/mounts.js';

export function netnsFilePath(execRoot: string, containerId: string): string {
  return join(execRoot, 'netns', containerId);
}

/** Creates a new, empty network namespace (loopback down) bound to `path`. */
export async function createNetnsFile(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  // The namespace is bound onto an existing file.
  await writeFile(path, '', { mode: 0o444 });
  try {
    await bindNewNetns(path);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/**
 * Unbinds and removes `path` (idempotent). The namespace itself ends with its last process, as
 * does the container end of a veth in it.
 */
export async function removeNetnsFile(path: string): Promise<void> {
  // Most releases have no file (host, none, container:<id>, or released already). A bound file
  // shows nsfs's device, not its directory's: two stats tell, not a read of the whole mount table.
  const [file, dir] = await Promise.all([stat(path).catch(() => null), stat(join(path, '..')).catch(() => null)]);
  if (!file) return;
  if (!dir || file.dev !== dir.dev) await unmountFilesystem(path);
  await rm(path, { force: true });
}

/** Removes the files in `<execRoot>/netns` of containers not in `keep` (a crash's leftovers). */
export async function removeStaleNetnsFiles(execRoot: string, keep: Set<string>, log: (msg: string) => void): Promise<void> {
  const dir = join(execRoot, 'netns');
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => !keep.has(n)).map((n) => removeNetnsFile(join(dir, n)).catch((err) => log(`remove stale netns ${n}: ${err}`))),
  );
}
