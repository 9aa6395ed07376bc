import { lstat } from 'node:fs/promises';

/** Whether something (a dangling symlink too) is at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
