/**
 * A directory nested `levels` deep below `root` (one-character names), made relative to the last
 * level as a container could make it: the whole path passes PATH_MAX. Returns with the working
 * directory as it was; `leaf`, when given, writes a file at the bottom (relative to it).
 */
import { mkdirSync } from 'node:fs';

export function makeDeepTree(root: string, levels: number, leaf?: () => void): void {
  mkdirSync(root, { recursive: true });
  const cwd = process.cwd();
  try {
    process.chdir(root);
    for (let i = 0; i < levels; i += 100) {
      const step = Array.from({ length: Math.min(100, levels - i) }, () => 'd').join('/');
      mkdirSync(step, { recursive: true });
      process.chdir(step);
    }
    leaf?.();
  } finally {
    process.chdir(cwd);
  }
}
