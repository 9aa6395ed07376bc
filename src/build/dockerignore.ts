/**
 * `.dockerignore`: reading its patterns as Docker does (the Dockerfile reference): cleaned like
 * Go's filepath.Clean with a leading `/` dropped, `#` lines are comments, `!` makes an exception.
 * lib/pattern-matcher.ts matches paths against them.
 */
import { posix } from 'node:path';

/** The patterns of a .dockerignore file, cleaned, `!` kept as a prefix. */
export function readDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let raw of lines) {
    if (raw.startsWith('#')) continue;
    raw = raw.trim();
    if (raw === '') continue;
    let invert = false;
    if (raw.startsWith('!')) {
      invert = true;
      raw = raw.slice(1).trim();
    }
    if (raw.length > 0) {
      raw = posix.normalize(raw);
      if (raw !== '/' && raw.endsWith('/')) raw = raw.slice(0, -1);
      if (raw.length > 1 && raw.startsWith('/')) raw = raw.slice(1);
    }
    out.push(invert ? `!${raw}` : raw);
  }
  return out;
}
