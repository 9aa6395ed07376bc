/**
 * A subset of Go's text/template, as the Docker CLI uses it for --format: fields and chains
 * (`.A.B`), variables (`$`, `$x := …`), pipelines (`.X | json`), function calls, parenthesised
 * pipelines, `if`/`else if`/`else`, `range` (with `$i, $e :=`), `with`, `end`, comments and
 * `{{-`/`-}}` trimming, plus Docker's functions (json, join, split, lower, upper, title, pad,
 * truncate) and Go's builtins (index, len, printf, print, println, eq, ne, lt, le, gt, ge, and,
 * or, not, slice).
 *
 * Values: objects may expose Go-like methods as functions (called with the template's
 * arguments, e.g. `.Label "k"`); an object implementing `templateFields()` is a "struct" whose
 * unknown fields are an error, as in Go; plain objects behave like Go maps (missing keys print
 * `<no value>`).
 */

/**
 * A template error with Go's text/template wording: `template: NAME:LINE: msg` when parsing,
 * `template: NAME:LINE:COL: executing "NAME" at <node>: msg` when executing. `reason` is the
 * bare message; `pos` (offset in the source) and `node` are filled in where the error arises.
 */
export class TemplateError extends Error {
  phase: 'parse' | 'exec' = 'parse';
  pos?: number;
  node?: string;
  constructor(readonly reason: string, pos?: number) {
    super(reason);
    this.pos = pos;
  }

  /** Sets the Go message for a template named `name` with source `src`. */
  locate(name: string, src: string): this {
    if (this.message !== this.reason) return this;
    const before = src.slice(0, this.pos ?? 0);
    const line = before.split('\n').length;
    if (this.phase === 'parse') this.message = `template: ${name}:${line}: ${this.reason}`;
    else {
      const col = Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
      this.message = `template: ${name}:${line}:${col}: executing "${name}" at <${this.node ?? ''}>: ${this.reason}`;
    }
    return this;
  }
}

/** An execution error at an operand (the first one to see it names the node). */
function atNode(err: unknown, o: { pos: number; text: string }): unknown {
  if (err instanceof TemplateError && err.phase === 'exec' && err.node === undefined) {
    err.pos = o.pos;
    err.node = o.text;
  }
  return err;
}

function execError(reason: string): TemplateError {
  const e = new TemplateError(reason);
  e.phase = 'exec';
  return e;
}

// ---------------------------------------------------------------- lexer / parser

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] | null }
  | { kind: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | null };

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
}

type Command = Operand[];

/** `pos`: offset in the template source; `text`: the node as Go prints it in errors. */
type Operand = { pos: number; text: string } & (
  | { kind: 'field'; chain: string[] } // .A.B ; chain [] = dot
  | { kind: 'var'; name: string; chain: string[] }
  | { kind: 'ident'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'pipe'; pipe: Pipeline; chain: string[] }
);

type BareToken =
  | { t: 'field'; v: string } // ".A" (one segment) or "." (dot)
  | { t: 'var'; v: string }
  | { t: 'ident'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'punct'; v: '(' | ')' | '|' | ':=' | '=' | ',' };
/** `p`: offset in the template source; `raw`: the token's source text. */
type Token = BareToken & { p: number; raw: string };

/** Whether a token directly follows the previous one (no space): `.A.B` is one chain, `.A .B` two operands. */
const glued = new WeakSet<object>();

function tokenizeAction(src: string, base = 0): Token[] {
  // Tokens are pushed bare and given their position and text once their end is known.
  const toks: BareToken[] = [];
  let i = 0;
  let prevEnd = -1;
  let count = 0;
  let start = 0;
  const place = () => Object.assign(toks[toks.length - 1]!, { p: base + start, raw: src.slice(start, i) });
  while (i < src.length) {
    if (toks.length > count) {
      // the previous iteration produced a token ending at i
      place();
      if (start === prevEnd) glued.add(toks[toks.length - 1]!);
      prevEnd = i;
      count = toks.length;
    }
    start = i;
    const c = src[i];
    if (/\s/.test(c!)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === ',') {
      toks.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      toks.push({ t: 'punct', v: ':=' });
      i += 2;
      continue;
    }
    if (c === '=') {
      toks.push({ t: 'punct', v: '=' });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const n = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0' };
          if (n === 'u' || n === 'x') {
            const len = n === 'u' ? 4 : 2;
            s += String.fromCodePoint(parseInt(src.slice(j + 2, j + 2 + len), 16));
            j += 2 + len;
            continue;
          }
          s += map[n!] ?? n;
          j += 2;
          continue;
        }
        s += src[j++];
      }
      if (j >= src.length) throw new TemplateError('unterminated quoted string', base + i);
      toks.push({ t: 'string', v: s });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError('unterminated raw quoted string', base + i);
      toks.push({ t: 'string', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const j = src.indexOf("'", i + 1);
      if (j < 0) throw new TemplateError('unterminated character constant', base + i);
      toks.push({ t: 'number', v: src.slice(i + 1, j).codePointAt(0) ?? 0 });
      i = j + 1;
      continue;
    }
    if (c === '.' || c === '$') {
      // a field segment, or a variable
      let j = i + 1;
      while (j < src.length && /[\w]/.test(src[j]!)) j++;
      const word = src.slice(i, j);
      if (c === '.' && /\d/.test(src[i + 1] ?? '')) {
        // number like .5
      } else {
        toks.push(c === '.' ? { t: 'field', v: word } : { t: 'var', v: word });
        i = j;
        continue;
      }
    }
    const num = /^[+-]?(0x[0-9a-fA-F]+|\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)/.exec(src.slice(i));
    if (num && (/[\d.+-]/.test(c!))) {
      toks.push({ t: 'number', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_]\w*/.exec(src.slice(i));
    if (id) {
      toks.push({ t: 'ident', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new TemplateError(`unexpected "${c}" in command`, base + i);
  }
  if (toks.length > count) {
    place();
    if (start === prevEnd) glued.add(toks[toks.length - 1]!);
  }
  return toks as Token[];
}

class ActionParser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  done(): boolean {
    return this.pos >= this.toks.length;
  }

  pipeline(allowDecl: boolean): Pipeline {
    const pipe: Pipeline = { decl: [], assign: false, cmds: [] };
    if (allowDecl) {
      // $x := / $i, $e := / $x =
      const save = this.pos;
      const vars: string[] = [];
      while (this.toks[this.pos]?.t === 'var') {
        vars.push(this.toks[this.pos]!.v as string);
        this.pos++;
        const p = this.toks[this.pos];
        if (p?.t === 'punct' && p.v === ',') {
          this.pos++;
          continue;
        }
        break;
      }
      const p = this.toks[this.pos];
      if (vars.length && p?.t === 'punct' && (p.v === ':=' || p.v === '=')) {
        pipe.decl = vars;
        pipe.assign = p.v === '=';
        this.pos++;
      } else {
        this.pos = save;
      }
    }
    for (;;) {
      pipe.cmds.push(this.command());
      const p = this.toks[this.pos];
      if (p?.t === 'punct' && p.v === '|') {
        this.pos++;
        continue;
      }
      break;
    }
    return pipe;
  }

  private command(): Command {
    const ops: Operand[] = [];
    for (;;) {
      const tok = this.toks[this.pos];
      if (!tok) break;
      if (tok.t === 'punct' && (tok.v === '|' || tok.v === ')')) break;
      ops.push(this.operand());
    }
    if (ops.length === 0) throw new TemplateError('missing value for command');
    return ops;
  }

  /** Glued `.X` segments after an operand; `at` is where the first one starts (Go's chain position). */
  private chainAfterGlued(): { chain: string[]; at?: number; raw: string } {
    const chain: string[] = [];
    let at: number | undefined;
    let raw = '';
    for (;;) {
      const tok = this.toks[this.pos];
      if (!(tok?.t === 'field' && tok.v.length > 1 && glued.has(tok))) break;
      at ??= tok.p;
      raw += tok.raw;
      chain.push(tok.v.slice(1));
      this.pos++;
    }
    return { chain, at, raw };
  }

  private operand(): Operand {
    const tok = this.toks[this.pos++]!;
    const at = { pos: tok.p, text: tok.raw };
    switch (tok.t) {
      case 'field': {
        if (tok.v === '.') return { ...at, kind: 'field', chain: [] };
        const rest = this.chainAfterGlued();
        return { pos: rest.at ?? tok.p, text: tok.raw + rest.raw, kind: 'field', chain: [tok.v.slice(1), ...rest.chain] };
      }
      case 'var': {
        const rest = this.chainAfterGlued();
        return { pos: rest.at ?? tok.p, text: tok.raw + rest.raw, kind: 'var', name: tok.v, chain: rest.chain };
      }
      case 'string':
        return { ...at, kind: 'string', value: tok.v };
      case 'number':
        return { ...at, kind: 'number', value: tok.v };
      case 'ident':
        if (tok.v === 'true' || tok.v === 'false') return { ...at, kind: 'bool', value: tok.v === 'true' };
        if (tok.v === 'nil') return { ...at, kind: 'nil' };
        if (!(tok.v in BUILTINS)) throw new TemplateError(`function "${tok.v}" not defined`, tok.p);
        return { ...at, kind: 'ident', name: tok.v };
      case 'punct':
        if (tok.v === '(') {
          const from = this.pos;
          const pipe = this.pipeline(true);
          const close = this.toks[this.pos++];
          if (!(close?.t === 'punct' && close.v === ')')) throw new TemplateError('unclosed left paren', tok.p);
          const inner = this.toks.slice(from, this.pos - 1).map((t) => t.raw).join(' ');
          const rest = this.chainAfterGlued();
          return { pos: rest.at ?? tok.p, text: `(${inner})${rest.raw}`, kind: 'pipe', pipe, chain: rest.chain };
        }
        throw new TemplateError(`unexpected "${tok.v}" in operand`, tok.p);
    }
  }
}

/** Splits template source into text and `{{…}}` actions, applying trim markers. */
function lex(src: string): Array<{ text: string } | { action: string; at: number }> {
  const items: Array<{ text: string } | { action: string; at: number }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      items.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src.startsWith('- ', start) || src.startsWith('-\t', start) || src.startsWith('-\n', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) items.push({ text });
    let close: number;
    const commentStart = src.slice(start).trimStart();
    if (commentStart.startsWith('/*')) {
      const endComment = src.indexOf('*/', start);
      if (endComment < 0) throw new TemplateError('unclosed comment', open);
      close = src.indexOf('}}', endComment);
    } else {
      close = findClose(src, start);
    }
    if (close < 0) throw new TemplateError('unclosed action', open);
    let body = src.slice(start, close);
    let next = close + 2;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      while (next < src.length && /\s/.test(src[next]!)) next++;
    }
    if (!body.trim().startsWith('/*')) items.push({ action: body.trim(), at: start + (body.length - body.trimStart().length) });
    i = next;
  }
  return items;
}

/** Finds the `}}` closing an action, skipping quoted strings. */
function findClose(src: string, from: number): number {
  let q: string | null = null;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = null;
      continue;
    }
    if (c === '"' || c === '`') q = c;
    else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

export function parseTemplate(src: string): Node[] {
  const items = lex(src);
  let pos = 0;

  const parseList = (terminators: string[]): { list: Node[]; end: string; at: number } => {
    const list: Node[] = [];
    while (pos < items.length) {
      const it = items[pos++]!;
      if ('text' in it) {
        list.push({ kind: 'text', text: it.text });
        continue;
      }
      const a = it.action;
      const word = /^(\w+)/.exec(a)?.[1] ?? '';
      if (word === 'end' && a === 'end') {
        if (!terminators.includes('end')) throw new TemplateError('unexpected {{end}}', it.at);
        return { list, end: 'end', at: it.at };
      }
      if (word === 'else') {
        if (!terminators.includes('else')) throw new TemplateError('unexpected {{else}}', it.at);
        return { list, end: a, at: it.at };
      }
      if (word === 'if' || word === 'with' || word === 'range') {
        list.push(parseControl(word, a.slice(word.length), it.at + word.length));
        continue;
      }
      if (word === 'template' || word === 'define' || word === 'block') {
        throw new TemplateError(`unsupported action: ${word}`, it.at);
      }
      const p = new ActionParser(tokenizeAction(a, it.at));
      const pipe = p.pipeline(true);
      if (!p.done()) throw new TemplateError(`unexpected token in action: ${a}`, it.at);
      list.push({ kind: 'action', pipe });
    }
    if (terminators.length) throw new TemplateError('unexpected EOF', src.length);
    return { list, end: '', at: src.length };
  };

  const parseControl = (kind: 'if' | 'with' | 'range', rest: string, at: number): Node => {
    const p = new ActionParser(tokenizeAction(rest, at));
    const pipe = p.pipeline(true);
    if (!p.done()) throw new TemplateError(`unexpected token in ${kind}`, at);
    const body = parseList(['end', 'else']);
    let elseList: Node[] | null = null;
    if (body.end !== 'end') {
      const raw = body.end.slice(4);
      const elseRest = raw.trimStart();
      const restAt = body.at + 4 + (raw.length - elseRest.length);
      if (elseRest.startsWith('if ') || elseRest.startsWith('with ')) {
        // `else if …` is sugar for `else` + nested `if … end`, sharing the one `end`.
        const w = elseRest.startsWith('if ') ? 'if' : 'with';
        elseList = [parseControl(w, elseRest.slice(w.length), restAt + w.length)];
      } else {
        elseList = parseList(['end']).list;
      }
    }
    return { kind, pipe, list: body.list, elseList };
  };

  return parseList([]).list;
}

// ---------------------------------------------------------------- values

/** Marks a value as a Go struct-like context: unknown fields are errors. */
export interface TemplateStruct {
  templateTypeName(): string;
}

function isStruct(v: unknown): v is TemplateStruct {
  return typeof v === 'object' && v !== null && typeof (v as TemplateStruct).templateTypeName === 'function';
}

const NO_VALUE = Symbol('no value');

/** Go's fmt %v rendering of a value. */
export function formatValue(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  if (typeof v === 'object') {
    if (typeof (v as { String?: unknown }).String === 'function') return String((v as { String(): string }).String());
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${formatValue((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

function formatNumber(n: number): string {
  return String(n);
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === NO_VALUE) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !isStruct(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's encoding/json of a value, HTML escaping off (as Docker's `json` function). */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v === undefined || v === NO_VALUE ? null : v);
  // Go's json.Marshal escapes HTML-significant characters too.
  return (s ?? 'null')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

function lengthOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw execError(`error calling len: len of type ${typeof v}`);
}

function indexOf(item: unknown, ...keys: unknown[]): unknown {
  let cur = item;
  for (const k of keys) {
    if (cur === null || cur === undefined || cur === NO_VALUE) throw execError('error calling index: index of untyped nil');
    if (Array.isArray(cur) || typeof cur === 'string') {
      const n = Number(k);
      const len = Array.isArray(cur) ? cur.length : cur.length;
      if (!Number.isInteger(n) || n < 0 || n >= len) throw execError(`error calling index: index out of range: ${k}`);
      cur = Array.isArray(cur) ? cur[n] : cur.charCodeAt(n);
    } else if (typeof cur === 'object') {
      const rec = cur as Record<string, unknown>;
      cur = Object.prototype.hasOwnProperty.call(rec, String(k)) ? rec[String(k)] : '';
    } else {
      throw execError(`error calling index: can't index item of type ${typeof cur}`);
    }
  }
  return cur;
}

/** Go's fmt.Sprintf for the verbs templates use. */
export function sprintf(format: string, ...args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-+ 0#]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])/g, (_m, flags: string, width: string, prec: string, verb: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 's':
      case 'v':
        s = formatValue(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
        break;
      case 'q':
        s = JSON.stringify(formatValue(a));
        break;
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeof a}=${formatValue(a)})`;
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeof a}=${formatValue(a)})`;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeof a}=${formatValue(a)})`;
        break;
      case 'x':
        s = typeof a === 'number' ? a.toString(16) : Buffer.from(formatValue(a)).toString('hex');
        break;
      case 'T':
        s = typeof a === 'string' ? 'string' : typeof a === 'number' ? 'int' : typeof a;
        break;
      default:
        s = `%!${verb}(${formatValue(a)})`;
    }
    if (width && width !== '*') {
      const w = Number(width);
      if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') ? '0' : ' ');
    }
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map(formatValue).join(', ')})` : '');
}

/** Go's fmt.Sprint: spaces between operands when neither side is a string. */
function sprint(...args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a !== typeof b) throw execError(`error calling ${name}: incompatible types for comparison`);
  if (typeof a === 'number' || typeof a === 'string') return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  throw execError(`error calling ${name}: invalid type for comparison`);
}

function goTitle(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase());
}

type Fn = (...args: unknown[]) => unknown;

const BUILTINS: Record<string, Fn> = {
  json: (v) => goJson(v),
  split: (s, sep) => String(s).split(String(sep)),
  join: (elems, sep) => {
    if (elems === null || elems === undefined) return '';
    if (Array.isArray(elems)) return elems.map(formatValue).join(String(sep));
    if (typeof elems === 'object') {
      return Object.values(elems as object).map(formatValue).sort().join(String(sep));
    }
    throw execError(`error calling join: expected slice, got ${typeof elems}`);
  },
  title: (s) => goTitle(String(s)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, prefix, suffix) => (s === '' ? '' : ' '.repeat(Number(prefix)) + formatValue(s) + ' '.repeat(Number(suffix))),
  truncate: (s, len) => {
    const str = String(s);
    return str.length < Number(len) ? str : str.slice(0, Number(len));
  },
  len: (v) => lengthOf(v),
  index: (item, ...keys) => indexOf(item, ...keys),
  slice: (item, ...idx) => {
    if (typeof item !== 'string' && !Array.isArray(item)) throw execError("error calling slice: can't slice item");
    const [i, j] = idx.map(Number);
    return item.slice(i ?? 0, j ?? item.length);
  },
  printf: (fmt, ...args) => sprintf(String(fmt), ...args),
  print: (...args) => sprint(...args),
  println: (...args) => `${args.map(formatValue).join(' ')}\n`,
  not: (v) => !truthy(v),
  and: (...args) => {
    for (const a of args) if (!truthy(a)) return a;
    return args[args.length - 1];
  },
  or: (...args) => {
    for (const a of args) if (truthy(a)) return a;
    return args[args.length - 1];
  },
  eq: (a, ...bs) => {
    if (bs.length === 0) throw execError('error calling eq: missing argument for comparison');
    return bs.some((b) => a === b || (a === null && b === undefined) || (a === undefined && b === null));
  },
  ne: (a, b) => a !== b,
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
};

/** Docker's HeaderFunctions: when rendering a table header these pass their input through. */
const HEADER_OVERRIDES: Record<string, Fn> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

// ---------------------------------------------------------------- execution

interface Scope {
  vars: Map<string, unknown>[];
}

function lookupVar(scope: Scope, name: string): unknown {
  for (let i = scope.vars.length - 1; i >= 0; i--) {
    if (scope.vars[i]!.has(name)) return scope.vars[i]!.get(name);
  }
  throw new TemplateError(`undefined variable "${name}"`);
}

export class Template {
  private readonly nodes: Node[];
  private readonly funcs: Record<string, Fn>;

  private readonly name: string;
  private readonly missingKeyError: boolean;

  /**
   * `name` is the template's name in Go's messages ('' for Docker's --format); `missingKey:
   * 'error'` is Go's missingkey=error (a map without the key is an error, not `<no value>`).
   */
  constructor(private readonly source: string, opts: { header?: boolean; name?: string; missingKey?: 'error' } = {}) {
    this.name = opts.name ?? '';
    this.missingKeyError = opts.missingKey === 'error';
    try {
      this.nodes = parseTemplate(source);
    } catch (err) {
      throw err instanceof TemplateError ? err.locate(this.name, source) : err;
    }
    this.funcs = opts.header ? { ...BUILTINS, ...HEADER_OVERRIDES } : BUILTINS;
  }

  /** Renders with `data` as dot. Throws TemplateError on execution errors. */
  execute(data: unknown): string {
    const out: string[] = [];
    try {
      this.walk(this.nodes, data, { vars: [new Map([['$', data]])] }, out);
    } catch (err) {
      throw err instanceof TemplateError ? err.locate(this.name, this.source) : err;
    }
    return out.join('');
  }

  /** Renders as far as possible, swallowing execution errors (Docker ignores header errors). */
  executePartial(data: unknown): string {
    const out: string[] = [];
    try {
      this.walk(this.nodes, data, { vars: [new Map([['$', data]])] }, out);
    } catch {
      // keep what was written
    }
    return out.join('');
  }

  private walk(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const n of nodes) {
      switch (n.kind) {
        case 'text':
          out.push(n.text);
          break;
        case 'action': {
          const v = this.evalPipe(n.pipe, dot, scope);
          if (n.pipe.decl.length === 0) out.push(formatValue(v));
          break;
        }
        case 'if':
        case 'with': {
          scope.vars.push(new Map());
          const v = this.evalPipe(n.pipe, dot, scope);
          if (truthy(v)) this.walk(n.list, n.kind === 'with' ? v : dot, scope, out);
          else if (n.elseList) this.walk(n.elseList, dot, scope, out);
          scope.vars.pop();
          break;
        }
        case 'range': {
          const decl = n.pipe.decl;
          const v = this.evalPipe({ ...n.pipe, decl: [] }, dot, scope);
          const entries: Array<[unknown, unknown]> = [];
          if (Array.isArray(v)) v.forEach((e, i) => entries.push([i, e]));
          else if (typeof v === 'number') for (let i = 0; i < v; i++) entries.push([i, i]);
          else if (v && typeof v === 'object') {
            for (const k of Object.keys(v).sort()) entries.push([k, (v as Record<string, unknown>)[k]]);
          } else if (v !== null && v !== undefined && v !== NO_VALUE) {
            throw execError(`range can't iterate over ${formatValue(v)}`);
          }
          if (entries.length === 0) {
            if (n.elseList) this.walk(n.elseList, dot, scope, out);
            break;
          }
          for (const [k, e] of entries) {
            const frame = new Map<string, unknown>();
            if (decl.length === 1) frame.set(decl[0]!, e);
            else if (decl.length >= 2) {
              frame.set(decl[0]!, k);
              frame.set(decl[1]!, e);
            }
            scope.vars.push(frame);
            this.walk(n.list, e, scope, out);
            scope.vars.pop();
          }
          break;
        }
      }
    }
  }

  private evalPipe(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let value: unknown = NO_VALUE;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(cmd, dot, scope, first ? NO_VALUE : value, !first);
      first = false;
    }
    if (pipe.decl.length) {
      const name = pipe.decl[0];
      if (pipe.assign) {
        for (let i = scope.vars.length - 1; i >= 0; i--) {
          if (scope.vars[i]!.has(name!)) {
            scope.vars[i]!.set(name!, value);
            return value;
          }
        }
        throw new TemplateError(`undefined variable "${name}"`);
      }
      scope.vars[scope.vars.length - 1]!.set(name!, value);
    }
    return value;
  }

  private evalCommand(cmd: Command, dot: unknown, scope: Scope, piped: unknown, hasPiped: boolean): unknown {
    const [head, ...rest] = cmd;
    if (!head) throw execError('empty command');
    const args = (): unknown[] => {
      const vals = rest.map((o) => this.evalOperand(o, dot, scope, []));
      if (hasPiped) vals.push(piped);
      return vals;
    };
    if (head.kind === 'ident') {
      const fn = this.funcs[head.name];
      if (!fn) throw execError(`function "${head.name}" not defined`);
      const a = args();
      try {
        return fn(...a);
      } catch (err) {
        // Go reports a failed call at its whole command (`<index .A 5>`).
        throw atNode(err, { pos: head.pos, text: cmd.map((o) => o.text).join(' ') });
      }
    }
    if (head.kind === 'field' || head.kind === 'var' || head.kind === 'pipe') {
      if (rest.length || hasPiped) return this.evalOperand(head, dot, scope, args());
      return this.evalOperand(head, dot, scope, []);
    }
    if (rest.length || hasPiped) throw execError(`can't give argument to non-function ${formatValue(this.evalOperand(head, dot, scope, []))}`);
    return this.evalOperand(head, dot, scope, []);
  }

  /** `finalArgs` are passed to the last element of a chain when it is a method. */
  private evalOperand(o: Operand, dot: unknown, scope: Scope, finalArgs: unknown[]): unknown {
    try {
      return this.evalOperandAt(o, dot, scope, finalArgs);
    } catch (err) {
      throw atNode(err, o);
    }
  }

  private evalOperandAt(o: Operand, dot: unknown, scope: Scope, finalArgs: unknown[]): unknown {
    switch (o.kind) {
      case 'field':
        return this.evalChain(dot, o.chain, finalArgs);
      case 'var':
        return this.evalChain(lookupVar(scope, o.name), o.chain, finalArgs);
      case 'pipe':
        return this.evalChain(this.evalPipe(o.pipe, dot, scope), o.chain, finalArgs);
      case 'string':
      case 'number':
      case 'bool':
        return o.value;
      case 'nil':
        return null;
      case 'ident':
        return this.funcs[o.name]!();
    }
  }

  private evalChain(receiver: unknown, chain: string[], finalArgs: unknown[]): unknown {
    let cur = receiver;
    chain.forEach((name, i) => {
      const last = i === chain.length - 1;
      cur = evalField(cur, name, last ? finalArgs : [], this.missingKeyError);
    });
    if (chain.length === 0 && finalArgs.length) {
      throw execError(`can't give argument to non-function ${formatValue(cur)}`);
    }
    return cur;
  }
}

function evalField(receiver: unknown, name: string, args: unknown[], missingKeyError = false): unknown {
  if (receiver === null || receiver === undefined || receiver === NO_VALUE) {
    throw execError(`nil pointer evaluating interface {}.${name}`);
  }
  if (typeof receiver !== 'object') {
    throw execError(`can't evaluate field ${name} in type ${typeof receiver}`);
  }
  const rec = receiver as Record<string, unknown>;
  if (isStruct(receiver)) {
    const member = rec[name];
    if (typeof member === 'function') return (member as Fn).apply(receiver, args);
    if (member === undefined && !(name in rec)) {
      throw execError(`can't evaluate field ${name} in type ${receiver.templateTypeName()}`);
    }
    if (args.length) throw execError(`${name} has arguments but cannot be invoked as function`);
    return member;
  }
  if (Array.isArray(receiver)) throw execError(`can't evaluate field ${name} in type []interface {}`);
  if (args.length) throw execError(`${name} is not a method but has arguments`);
  if (Object.prototype.hasOwnProperty.call(rec, name)) return rec[name];
  if (missingKeyError) throw execError(`map has no entry for key "${name}"`);
  return NO_VALUE;
}

/**
 * Docker's preprocessing of a --format value: `table` prefix stripped, surrounding spaces
 * trimmed, literal `\t` and `\n` turned into tab and newline. `json` means `{{json .}}`.
 */
export function templateSource(format: string): string {
  if (format === 'table') return '';
  if (format === 'json') return '{{json .}}';
  let out = format.startsWith('table') ? format.slice('table'.length) : format;
  out = out.replace(/^ +| +$/g, '');
  return out.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

export const isTableFormat = (format: string): boolean => format.startsWith('table');
