/**
 * COPY's wildcards (Go's filepath.Match) expanded against a tree: every path below a directory
 * whose whole matches the pattern. Run on a walk worker (walk-pool.ts): a Dockerfile line can hold
 * a pattern of megabytes, whose compiling and matching held the daemon's thread for tens of seconds.
 */
import { readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { invalidParameter, systemError } from '../lib/errors.js';
import { compileGoRegexp, type GoRegexp } from '../lib/go-regexp.js';
import { MAX_TREE_DEPTH, tooDeep } from '../lib/tree-depth.js';

/** A character that stands for itself in RE2 (which refuses `\\` before a letter or digit). */
const escapeChar = (ch: string) => (/[!-/:-@[-`{-~]/.test(ch) ? '\\' + ch : ch);

/**
 * Go's filepath.Match pattern as a regular expression (for one path, `/` never matched by
 * wildcards), run in linear time as Go's matcher runs (a backtracking RegExp took exponential
 * time for `*a*a*a…` against a long name).
 */
export function goMatchRegex(pattern: string): GoRegexp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalidParameter('syntax error in pattern');
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/\\/g, '\\\\');
      else cls = cls.replace(/\\/g, '\\\\');
      re += `[${cls}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += escapeChar(pattern[++i]!);
    else re += escapeChar(ch);
  }
  try {
    return compileGoRegexp(`(?s)${re}$`);
  } catch {
    throw invalidParameter('syntax error in pattern');
  }
}

/**
 * The paths below the directory `at` (absolute, `/` its root, each directory's names sorted and
 * listed before what is below them) that `pattern` matches. Only real directories are entered,
 * down to MAX_TREE_DEPTH levels: deeper fails as Docker's walk fails at PATH_MAX.
 */
export function globTree(at: string, pattern: string): string[] {
  const re = goMatchRegex(pattern);
  const out: string[] = [];
  const walk = (dir: string, depth = 0) => {
    let entries;
    try {
      entries = readdirSync(at + dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = posix.join(dir, e.name);
      if (re.test(p)) out.push(p);
      if (!e.isDirectory()) continue;
      if (depth + 1 >= MAX_TREE_DEPTH) throw systemError(tooDeep(p));
      walk(p, depth + 1);
    }
  };
  walk('/');
  return out;
}
