/** The one disk-usage walk (container RW layers, volumes, /system/df). */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The bytes below `root` as Docker's directory.Size counts them: every entry but directories,
 * by its lstat size, each inode once (hardlinks count once). Unreadable entries are skipped.
 */
export async function dirSize(root: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(dir, e.name);
      const st = await lstat(p).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) {
        await walk(p);
        continue;
      }
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      total += st.size;
    }
  };
  await walk(root);
  return total;
}
