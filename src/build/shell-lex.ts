/**
 * Variable substitution in Dockerfile words, as the Dockerfile reference defines it (and
 * BuildKit's shell lexer, which Docker's classic builder also uses, implements it):
 * `$VAR`, `${VAR}`, `${VAR:-word}` / `${VAR-word}`, `${VAR:+word}` / `${VAR+word}`,
 * `${VAR:?msg}` / `${VAR?msg}`; single quotes are literal, double quotes expand, the escape
 * token (`\` or `` ` ``) escapes the next character (inside double quotes only `"`, `$` and
 * itself). Quotes and escapes are removed from the result.
 */

export type Env = ReadonlyMap<string, string>;

/** `KEY=value` lines (later ones win) to a lookup map. */
export function envMap(lines: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf('=');
    if (i < 0) m.set(l, '');
    else m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}
  peek(): string | undefined {
    return this.pos < this.src.length ? this.src[this.pos] : undefined;
  }
  next(): string | undefined {
    return this.pos < this.src.length ? this.src[this.pos++] : undefined;
  }
}

/**
 * Longest word an expansion may produce. Doubling a variable with `ENV v=$v$v` reached V8's
 * 512 MiB string limit in 25 lines, with the daemon at 3.2 GB of its 4 GB heap on the way (a few
 * such variables would have ended the process). No process could be given such a value: Linux
 * refuses an environment string or argument over 128 KiB.
 */
const MAX_EXPANSION = 1 << 20;

const isNameStart = (c: string) => /[A-Za-z_]/.test(c);
const isNameChar = (c: string) => /[A-Za-z0-9_]/.test(c);

class Lexer {
  private readonly s: Scanner;
  /** Words found so far (ProcessWords) and whether the current word has content. */
  private readonly words: string[] = [];
  private word = '';
  private inWord = false;

  constructor(
    src: string,
    private readonly env: Env,
    private readonly escape: string,
    private readonly split: boolean,
  ) {
    this.s = new Scanner(src);
  }

  run(): { word: string; words: string[] } {
    let out = '';
    for (;;) {
      const ch = this.s.peek();
      if (ch === undefined) break;
      if (this.split && /\s/.test(ch)) {
        this.s.next();
        if (this.inWord) this.flush();
        continue;
      }
      let piece: string;
      if (ch === "'") piece = this.single();
      else if (ch === '"' || ch === '$') piece = this.expansion();
      else if (ch === this.escape) {
        this.s.next();
        const n = this.s.next();
        piece = n ?? '';
      } else {
        this.s.next();
        piece = ch;
      }
      // An unquoted expansion is split on its own whitespace too (EXPOSE $PORTS with "80 443").
      if (ch === '$' && this.split) this.addSplit(piece);
      else {
        this.word += piece;
        this.inWord = true;
      }
      out += piece;
      if (out.length > MAX_EXPANSION) this.tooLong();
    }
    if (this.inWord) this.flush();
    return { word: out, words: this.words };
  }

  private addSplit(text: string): void {
    for (const c of text) {
      if (/\s/.test(c)) {
        if (this.inWord) this.flush();
      } else {
        this.word += c;
        this.inWord = true;
      }
    }
  }

  private flush(): void {
    this.words.push(this.word);
    this.word = '';
    this.inWord = false;
  }

  private single(): string {
    this.s.next();
    let out = '';
    for (;;) {
      const ch = this.s.next();
      if (ch === undefined) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  /**
   * The expansion of the `"…"` or `$…` at the scanner. Nested `${v:-…}` words and quoted strings
   * are frames on a stack of their own, not calls: 10,000 levels of `${a:-${a:-…}}` overflowed
   * the call stack (BuildKit's Go lexer, on Go's growing stacks, takes them). Each frame's text
   * is held to the expansion cap as it grows, so none reaches V8's string limit first.
   */
  private expansion(): string {
    const stack: Frame[] = [];
    const deliver = (v: string): string | null => {
      const top = stack.at(-1);
      if (!top) return v;
      append(top, v);
      return null;
    };
    const append = (f: Frame, v: string) => {
      f.out += v;
      if (f.out.length > MAX_EXPANSION) this.tooLong();
    };
    const start = (): string | null => {
      if (this.s.peek() === '"') {
        this.s.next();
        stack.push({ kind: 'double', out: '' });
        return null;
      }
      const head = this.dollar();
      return typeof head === 'string' ? deliver(head) : (stack.push(head), null);
    };
    let done = start();
    while (done === null) {
      const top = stack.at(-1)!;
      const ch = this.s.peek();
      if (top.kind === 'double') {
        if (ch === undefined) throw new Error('unexpected end of statement while looking for matching double-quote');
        if (ch === '"') {
          this.s.next();
          stack.pop();
          done = deliver(top.out);
        } else if (ch === '$') done = start();
        else {
          this.s.next();
          const n = this.s.peek();
          if (ch === this.escape && (n === '"' || n === '$' || n === this.escape)) append(top, this.s.next()!);
          else append(top, ch);
        }
        continue;
      }
      if (ch === undefined) throw new Error("missing '}'");
      if (ch === '}') {
        this.s.next();
        stack.pop();
        done = deliver(this.modified(top));
      } else if (ch === '"' || ch === '$') done = start();
      else if (ch === "'") append(top, this.single());
      else if (ch === this.escape) {
        this.s.next();
        append(top, this.s.next() ?? '');
      } else {
        this.s.next();
        append(top, ch);
      }
    }
    return done;
  }

  private tooLong(): never {
    throw new Error(`expansion of ${JSON.stringify(this.s.src.slice(0, 40))} is longer than ${MAX_EXPANSION} characters`);
  }

  private name(): string {
    let name = '';
    const first = this.s.peek();
    if (first !== undefined && /[0-9]/.test(first)) {
      while (this.s.peek() !== undefined && /[0-9]/.test(this.s.peek()!)) name += this.s.next();
      return name;
    }
    while (this.s.peek() !== undefined && isNameChar(this.s.peek()!)) name += this.s.next();
    return name;
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  /** A `$…` at the scanner: its value, or the frame of a `${VAR<modifier>word}` whose word follows. */
  private dollar(): string | ModifierFrame {
    this.s.next(); // '$'
    const ch = this.s.peek();
    if (ch === undefined) return '$';
    if (ch !== '{') {
      if (!isNameStart(ch) && !/[0-9]/.test(ch)) return '$';
      return this.lookup(this.name()) ?? '';
    }
    this.s.next(); // '{'
    const name = this.name();
    if (name === '') throw new Error('bad substitution');
    const c = this.s.peek();
    if (c === undefined) throw new Error("missing '}'");
    if (c === '}') {
      this.s.next();
      return this.lookup(name) ?? '';
    }
    let colon = false;
    let mod = this.s.next()!;
    if (mod === ':') {
      colon = true;
      const m = this.s.next();
      if (m === undefined) throw new Error("missing '}'");
      mod = m;
    }
    if (mod !== '-' && mod !== '+' && mod !== '?') throw new Error(`unsupported modifier (${colon ? ':' : ''}${mod}) in substitution`);
    return { kind: 'word', out: '', name, colon, mod };
  }

  /** What `${VAR<modifier>word}` stands for, its word expanded. */
  private modified(f: ModifierFrame): string {
    const value = this.lookup(f.name);
    if (f.mod !== '?') return withModifier(value, f.colon, f.mod, f.out);
    if (f.colon ? !value : value === undefined) throw new Error(`${f.name}: ${f.out || 'is not allowed to be unset'}`);
    return value!;
  }
}

/** A `${VAR<modifier>word}` whose word is being read. */
interface ModifierFrame {
  kind: 'word';
  out: string;
  name: string;
  colon: boolean;
  mod: '-' | '+' | '?';
}

/** A quoted string or a modifier's word being read, with its expanded text so far. */
type Frame = { kind: 'double'; out: string } | ModifierFrame;

/** What `${VAR-word}` / `${VAR+word}` stand for with VAR's `value`; with `colon` (`:-`, `:+`) an empty value counts as unset. */
export function withModifier(value: string | undefined, colon: boolean, mod: '-' | '+', word: string): string {
  const set = colon ? value !== undefined && value !== '' : value !== undefined;
  if (mod === '-') return set ? value! : word;
  return set ? word : '';
}

/** Expands one word, keeping its whitespace (ENV values, COPY paths, WORKDIR …). */
export function processWord(word: string, env: Env, escape = '\\'): string {
  return new Lexer(word, env, escape, false).run().word;
}

/** Expands and splits on unquoted whitespace (EXPOSE, …). */
export function processWords(word: string, env: Env, escape = '\\'): string[] {
  return new Lexer(word, env, escape, true).run().words;
}

/**
 * Expands the variables of a COPY here-document's body (`$VAR`, `${VAR}`, `${VAR:-w}`,
 * `${VAR:+w}`; `\$` is a literal `$`), leaving its quotes and other text as written: the body
 * is file content, not a shell word.
 */
export function expandHeredoc(text: string, env: Env): string {
  return text.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced?: string, op?: string, word?: string, bare?: string) => {
    if (m === '\\$') return '$';
    const name = (braced ?? bare)!;
    const value = env.get(name);
    if (!op) return value ?? '';
    return withModifier(value, op.startsWith(':'), op.endsWith('-') ? '-' : '+', word ?? '');
  });
}
