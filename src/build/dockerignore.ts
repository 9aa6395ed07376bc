/**
 * `.dockerignore`: reading the patterns and matching paths as Docker does (moby's
 * patternmatcher, documented in the Dockerfile reference): patterns are cleaned like Go's
 * filepath.Clean with a leading `/` dropped, `#` lines are comments, `!` makes an exception;
 * `*` and `?` never match `/`, `**` matches any number of directories, `\` escapes, `[...]`
 * classes pass through; a path is excluded when the last pattern that matches it — or one of
 * its parent directories — is not an exception.
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

interface Pattern {
  exclusion: boolean;
  cleaned: string;
  regex: RegExp;
  dirs: string[];
}

function compile(cleaned: string): RegExp {
  let re = '^';
  for (let i = 0; i < cleaned.length; i++) {
    const ch = cleaned[i]!;
    if (ch === '*') {
      if (cleaned[i + 1] === '*') {
        i++;
        if (cleaned[i + 1] === '/') i++;
        re += i + 1 >= cleaned.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      if (i + 1 < cleaned.length) re += '\\' + cleaned[++i];
      else re += '\\\\';
    } else if (ch === '[' || ch === ']') re += ch;
    else if (/[.+()|{}^$]/.test(ch)) re += '\\' + ch;
    else re += ch;
  }
  re += '$';
  try {
    return new RegExp(re, 's');
  } catch {
    throw new Error(`syntax error in pattern`);
  }
}

export class PatternMatcher {
  private readonly patterns: Pattern[];

  constructor(patterns: readonly string[]) {
    this.patterns = [];
    for (const p of patterns) {
      let s = p.trim();
      if (s === '') continue;
      const exclusion = s.startsWith('!');
      if (exclusion) {
        s = s.slice(1);
        if (s === '') throw new Error('illegal exclusion pattern: "!"');
      }
      s = posix.normalize(s);
      if (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
      this.patterns.push({ exclusion, cleaned: s, regex: compile(s), dirs: s.split('/') });
    }
  }

  /** Whether there are `!` patterns (a matched directory must then still be walked). */
  get hasExclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether `file` (relative, `/`-separated) is ignored: moby's MatchesOrParentMatches. */
  matches(file: string): boolean {
    file = posix.normalize(file);
    let matched = false;
    const parent = posix.dirname(file);
    const parentDirs = parent.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let match = p.regex.test(file);
      if (!match && parent !== '.') {
        for (let i = 0; i < parentDirs.length; i++) {
          if (p.regex.test(parentDirs.slice(0, i + 1).join('/'))) {
            match = true;
            break;
          }
        }
      }
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether a matched directory can be skipped whole: no exception pattern could bring back
   * something below it (moby's walker descends when an exception's dirs start with this path).
   */
  canSkipDir(dir: string): boolean {
    if (!this.hasExclusions) return true;
    const parts = dir.split('/');
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      if (p.cleaned.includes('**')) return false;
      // An exception under this directory (or one whose leading components are wildcards).
      const n = Math.min(parts.length, p.dirs.length);
      let prefix = true;
      for (let i = 0; i < n; i++) {
        if (!compile(p.dirs[i]!).test(parts[i]!)) {
          prefix = false;
          break;
        }
      }
      if (prefix) return false;
    }
    return true;
  }
}
