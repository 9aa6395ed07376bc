/**
 * moby's patternmatcher, as `.dockerignore` and BuildKit's COPY --exclude and --parents use it:
 * patterns are cleaned like Go's filepath.Clean, `!` makes an exception; `*` and `?` never match
 * `/`, `**` matches any number of directories, `\` escapes, `[...]` classes pass through; a
 * path matches when the last pattern that matches it — or one of its parent directories — is not
 * an exception.
 */
import { posix } from 'node:path';

interface Pattern {
  exclusion: boolean;
  cleaned: string;
  glob: Glob;
  dirs: string[];
}

/**
 * One element of a compiled pattern: a single character (a literal, `?`, a class), `*` (any run
 * without `/`), a final `**` (anything) or a `**` before more pattern (nothing, or anything
 * ending in `/`): moby's patternmatcher builds a Go regexp from the same pieces.
 */
type Token = { kind: 'char'; test: (c: string) => boolean } | { kind: 'star' } | { kind: 'any' } | { kind: 'dirs' };

/**
 * A compiled pattern, run as a set of states over the path (one pass, no backtracking), as Go's
 * regexp runs: JavaScript's backtracking RegExp took 39 s to try a pattern of six `**` against a
 * 60-component path, with the daemon's one thread blocked, and grows exponentially from there.
 */
class Glob {
  constructor(private readonly tokens: Token[]) {}

  /** Whether the whole of `s` matches. */
  test(s: string): boolean {
    return this.run(s, false);
  }

  /** Whether `s` or one of its leading parts ending before a `/` matches (moby's parent-directory check). */
  testOrParent(s: string): boolean {
    return this.run(s, true);
  }

  private run(s: string, parents: boolean): boolean {
    const n = this.tokens.length;
    // States 0..n: before token i; n+1+i: inside a `**/` at token i (something read, not yet its `/`).
    let cur = new Uint8Array(2 * n + 1);
    let next = new Uint8Array(2 * n + 1);
    const add = (set: Uint8Array, i: number) => {
      // Tokens that may match nothing are skipped at once.
      while (i < n && !set[i]) {
        set[i] = 1;
        const k = this.tokens[i]!.kind;
        if (k === 'char') return;
        i++;
      }
      if (i === n) set[n] = 1;
    };
    add(cur, 0);
    for (let p = 0; p < s.length; p++) {
      const c = s[p]!;
      if (parents && c === '/' && p > 0 && cur[n]) return true;
      next.fill(0);
      let any = false;
      for (let i = 0; i < n; i++) {
        const t = this.tokens[i]!;
        if (cur[i]) {
          if (t.kind === 'char') {
            if (t.test(c)) add(next, i + 1);
          } else if (t.kind === 'star') {
            if (c !== '/') add(next, i);
          } else if (t.kind === 'any') add(next, i);
          else {
            next[n + 1 + i] = 1;
            if (c === '/') add(next, i + 1);
          }
        }
        if (cur[n + 1 + i]) {
          next[n + 1 + i] = 1;
          if (c === '/') add(next, i + 1);
        }
      }
      for (let i = 0; i < next.length && !any; i++) any = next[i] === 1;
      if (!any) return false;
      [cur, next] = [next, cur];
    }
    return cur[n] === 1;
  }
}

const literal = (ch: string) => (c: string) => c === ch;
const notSlash = (c: string) => c !== '/';

/**
 * A `[...]` class starting at `cleaned[i]` (the `[`): its single-character test and the index of
 * its `]`. Inside, `\` escapes a character and the rest are taken as a RegExp class takes them.
 */
function compileClass(cleaned: string, i: number): { test: (c: string) => boolean; end: number } {
  let src = '';
  let j = i + 1;
  for (; j < cleaned.length && cleaned[j] !== ']'; j++) {
    const ch = cleaned[j]!;
    if (ch === '\\' && j + 1 < cleaned.length) src += `\\u{${cleaned.codePointAt(++j)!.toString(16)}}`;
    else if (ch === '[') src += '\\[';
    else src += ch;
  }
  if (j >= cleaned.length) throw new Error('syntax error in pattern');
  let re: RegExp;
  try {
    // One character against a class: no repetition, so no backtracking.
    re = new RegExp(`^[${src}]$`, 'su');
  } catch {
    throw new Error('syntax error in pattern');
  }
  return { test: (c) => re.test(c), end: j };
}

function compile(cleaned: string): Glob {
  const tokens: Token[] = [];
  for (let i = 0; i < cleaned.length; i++) {
    const ch = cleaned[i]!;
    if (ch === '*') {
      if (cleaned[i + 1] === '*') {
        i++;
        if (cleaned[i + 1] === '/') i++;
        tokens.push({ kind: i + 1 >= cleaned.length ? 'any' : 'dirs' });
      } else tokens.push({ kind: 'star' });
    } else if (ch === '?') tokens.push({ kind: 'char', test: notSlash });
    else if (ch === '\\') tokens.push({ kind: 'char', test: literal(i + 1 < cleaned.length ? cleaned[++i]! : '\\') });
    else if (ch === '[') {
      const cls = compileClass(cleaned, i);
      tokens.push({ kind: 'char', test: cls.test });
      i = cls.end;
    } else tokens.push({ kind: 'char', test: literal(ch) });
  }
  return new Glob(tokens);
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
      this.patterns.push({ exclusion, cleaned: s, glob: compile(s), dirs: s.split('/') });
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
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      if (p.glob.testOrParent(file)) matched = !p.exclusion;
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
