/**
 * The Dockerfile's line syntax (the Dockerfile reference; BuildKit's frontend/dockerfile/parser
 * is what Docker's classic builder uses): parser directives at the top (`escape`, `syntax` and
 * `check` recognised, `syntax` ignored), comments, line continuations with the escape token
 * (comment and empty lines inside a continuation skipped), the instruction word, `--flags`, and
 * each instruction's argument form (JSON array or shell string, name=value pairs, words).
 * Heredocs (`RUN <<EOF`, `COPY <<EOF /dst`) are BuildKit's: with `heredocs` (a build through
 * BuildKit's API) their bodies are read off the following lines; otherwise a `<<EOF` in
 * RUN/COPY/ADD is refused with a clear error, as by Docker's classic builder.
 */

export class DockerfileParseError extends Error {}

export interface Node {
  /** Lowercased instruction word. */
  cmd: string;
  /** The instruction word as written. */
  word: string;
  /** The whole logical line, continuations joined, trimmed. */
  original: string;
  /** `--name=value` flags before the arguments. */
  flags: string[];
  /** Arguments in the instruction's form: words, JSON items, or [key, value, sep] triples for ENV/LABEL. */
  args: string[];
  /** Whether the arguments were a JSON array (exec form). */
  json: boolean;
  /** ONBUILD's trigger. */
  sub?: Node;
  /** The here-documents of a RUN, COPY or ADD, in the order the line names them. */
  heredocs?: Heredoc[];
  startLine: number;
  endLine: number;
}

export interface Heredoc {
  name: string;
  /** The body, each line ending with a newline (leading tabs removed for `<<-`). */
  content: string;
  /** Unquoted name: variables in the body are expanded (COPY; a RUN's shell expands its own). */
  expand: boolean;
}

/** A here-document marker: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` (optionally after a file descriptor). */
const HEREDOC_MARKER = /(?:^|[^<\w])\d*<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;

export interface ParseResult {
  nodes: Node[];
  escapeToken: string;
  warnings: string[];
  /** The `# syntax=` directive, which the classic builder ignores. */
  syntax?: string;
}

const WS = /[\t\v\f\r ]+/;

/** JavaScript's `\s`, with the ASCII cases answered before a regular expression is asked. */
const isSpace = (ch: string) => ch === ' ' || (ch >= '\t' && ch <= '\r') || (ch > '\x7f' && /\s/.test(ch));

/**
 * Splits the words of an ENV/LABEL/ARG argument string, keeping quotes and escapes (BuildKit's
 * parseWords). A word is the text between spaces outside quotes, so it is taken as one slice
 * (not built a character at a time: an instruction can be megabytes long); only an escape that
 * ends the string is left out.
 */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const n = rest.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(rest[i]!)) i++;
    if (i === n) break;
    const start = i;
    let stop = n;
    let quote = '';
    let blankOK = false;
    while (i < n) {
      const ch = rest[i]!;
      if (quote === '' && isSpace(ch)) {
        stop = i;
        break;
      }
      if (quote === '' && (ch === "'" || ch === '"')) {
        quote = ch;
        blankOK = true;
      } else if (quote !== '' && ch === quote) {
        quote = '';
      } else if (ch === escape && quote !== "'") {
        if (i + 1 === n) {
          stop = i;
          i = n;
          break;
        }
        i++;
      }
      i++;
    }
    const word = rest.slice(start, stop);
    if (blankOK || word.length > 0) words.push(word);
  }
  return words;
}

function parseNameVal(rest: string, key: string, escape: string): string[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const parts = splitOnce(rest);
    if (parts.length < 2) throw new DockerfileParseError(`${key} must have two arguments`);
    return [parts[0]!, parts[1]!, ''];
  }
  const out: string[] = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) throw new DockerfileParseError(`Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    out.push(w.slice(0, i), w.slice(i + 1), '=');
  }
  return out;
}

function splitOnce(s: string): string[] {
  const m = WS.exec(s);
  if (!m) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

/** Go's %q for the ASCII strings error messages quote. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** A JSON array of strings, or null when `rest` is not one. Throws for arrays of non-strings. */
function parseJSONArray(rest: string): string[] | null {
  const t = rest.replace(/^\s+/, '');
  if (!t.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  if (!v.every((x) => typeof x === 'string')) throw new DockerfileParseError('when using JSON array syntax, arrays must be comprised of strings only');
  return v as string[];
}

function parseArgs(cmd: string, rest: string, escape: string): { args: string[]; json: boolean; sub?: Node } {
  switch (cmd) {
    case 'run':
    case 'cmd':
    case 'entrypoint':
    case 'shell': {
      if (rest === '') return { args: [], json: false };
      const j = parseJSONArray(rest);
      return j ? { args: j, json: true } : { args: [rest], json: false };
    }
    case 'add':
    case 'copy':
    case 'volume': {
      const j = parseJSONArray(rest);
      if (j) return { args: j, json: true };
      return { args: rest === '' ? [] : rest.split(WS), json: false };
    }
    case 'env':
      return { args: parseNameVal(rest, 'ENV', escape), json: false };
    case 'label':
      return { args: parseNameVal(rest, 'LABEL', escape), json: false };
    case 'arg':
      return { args: parseWords(rest, escape), json: false };
    case 'expose':
    case 'from':
      return { args: rest === '' ? [] : rest.split(WS), json: false };
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      return { args: rest === '' ? [] : [rest], json: false };
    case 'healthcheck': {
      const m = /^(\S+)\s*(.*)$/s.exec(rest);
      if (!m) return { args: [], json: false };
      const cmdRest = m[2]!;
      if (cmdRest === '') return { args: [m[1]!], json: false };
      const j = parseJSONArray(cmdRest);
      return j ? { args: [m[1]!, ...j], json: true } : { args: [m[1]!, cmdRest], json: false };
    }
    case 'onbuild': {
      if (rest === '') return { args: [], json: false };
      const sub = nodeFromLine(rest, escape, 0, 0);
      return { args: [rest], json: false, sub };
    }
    default:
      return { args: [], json: false };
  }
}

/** BuildKit's extractBuilderFlags: leading `--words` (quotes and escapes processed), then the rest. */
function extractFlags(line: string, escape: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let cur = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const end = pos === line.length;
    let ch = end ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { flags, rest: line.slice(pos) };
      phase = 'word';
    }
    if (end) {
      if (cur !== '--' && (blankOK || cur.length > 0)) flags.push(cur);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (cur === '--') return { flags, rest: line.slice(pos) };
        if (blankOK || cur.length > 0) flags.push(cur);
        cur = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      cur += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    cur += ch;
  }
  return { flags, rest: '' };
}

function nodeFromLine(line: string, escape: string, startLine: number, endLine: number): Node {
  const trimmed = line.trim();
  const [word, after] = splitOnce(trimmed) as [string, string | undefined];
  let flags: string[] = [];
  let rest = '';
  if (after !== undefined) {
    const f = extractFlags(after, escape);
    flags = f.flags;
    rest = f.rest.trim();
  }
  const cmd = word.toLowerCase();
  const { args, json, sub } = parseArgs(cmd, rest, escape);
  return { cmd, word, original: trimmed, flags, args, json, ...(sub ? { sub } : {}), startLine, endLine };
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

function continuationRegex(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`(^|[^${e}])${e}[ \\t]*$`);
}

const isComment = (line: string) => /^\s*#/.test(line);

/** Parses a Dockerfile. Errors carry Docker's text; the caller adds "dockerfile parse error on line N". */
export function parseDockerfile(text: string, opts: { heredocs?: boolean } = {}): ParseResult {
  return drain(dockerfileNodes(text, opts));
}

/** Runs a generator that yields only to pause, to its end. */
export function drain<T>(gen: Generator<void, T>): T {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

/**
 * parseDockerfile, pausing after each instruction so that a caller can give the event loop a
 * turn: a 10 MiB Dockerfile of short lines took seconds to parse.
 */
export function* dockerfileNodes(text: string, opts: { heredocs?: boolean } = {}): Generator<void, ParseResult> {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  checkLineLengths(lines);
  let escape = '\\';
  let syntax: string | undefined;
  const seen = new Set<string>();
  let directivesDone = false;
  let contRe = continuationRegex(escape);
  const nodes: Node[] = [];
  const warnings: string[] = [];

  const directive = (raw: string, lineNo: number): boolean => {
    if (directivesDone) return false;
    const m = DIRECTIVE.exec(raw);
    const key = m?.[1]!.toLowerCase();
    if (!m || (key !== 'escape' && key !== 'syntax' && key !== 'check')) {
      directivesDone = true;
      return false;
    }
    if (seen.has(key)) throw new DockerfileParseError(`dockerfile parse error on line ${lineNo}: only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '`' && m[2] !== '\\') throw new DockerfileParseError(`dockerfile parse error on line ${lineNo}: invalid escape token '${m[2]}' does not match \` or \\`);
      escape = m[2];
      contRe = continuationRegex(escape);
    } else if (key === 'syntax') syntax = m[2];
    return true;
  };

  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i]!.replace(/\r$/, '').replace(/^\s+/, '');
    directive(raw, i + 1);
    const startLine = i + 1;
    if (isComment(raw)) raw = '';
    const cont = (l: string): { text: string; more: boolean } => {
      const m = contRe.exec(l);
      if (!m) return { text: l, more: false };
      return { text: l.slice(0, m.index) + m[1], more: true };
    };
    let { text, more } = cont(raw);
    if (!more && text === '') continue;
    let buf = text;
    let emptyCont = false;
    while (more && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.replace(/\r$/, '');
      directive(next, i + 1);
      if (isComment(next)) continue;
      if (next.trim() === '') {
        emptyCont = true;
        continue;
      }
      ({ text, more } = cont(next));
      buf += text;
      // One instruction may run on for a million continued lines.
      if (((i - startLine) & 4095) === 0) yield;
    }
    if (emptyCont) warnings.push(`Empty continuation line found in: ${buf}`);
    let node: Node;
    try {
      node = nodeFromLine(buf, escape, startLine, i + 1);
    } catch (err) {
      throw new DockerfileParseError(`dockerfile parse error on line ${startLine}: ${(err as Error).message}`);
    }
    if ((node.cmd === 'run' || node.cmd === 'copy' || node.cmd === 'add') && !node.json && /<<-?["']?[A-Za-z_]/.test(buf)) {
      if (!opts.heredocs) {
        throw new DockerfileParseError(
          `dockerfile parse error on line ${startLine}: heredocs (<<EOF) in ${node.word.toUpperCase()} require BuildKit; the classic builder does not support them`,
        );
      }
      const heredocs: Heredoc[] = [];
      for (const m of buf.matchAll(HEREDOC_MARKER)) {
        const chomp = m[1] === '-';
        const name = m[3]!;
        let content = '';
        for (;;) {
          i++;
          if (i >= lines.length) throw new DockerfileParseError(`dockerfile parse error on line ${startLine}: unterminated heredoc ${name}`);
          let line = lines[i]!.replace(/\r$/, '');
          if (chomp) line = line.replace(/^\t+/, '');
          if (line === name) break;
          content += `${line}\n`;
        }
        heredocs.push({ name, content, expand: m[2] === '' });
      }
      node.heredocs = heredocs;
      node.endLine = i + 1;
    }
    nodes.push(node);
    yield;
  }
  if (nodes.length === 0) throw new DockerfileParseError(`dockerfile parse error on line ${lines.length}: file with no instructions`);
  return { nodes, escapeToken: escape, warnings, ...(syntax !== undefined ? { syntax } : {}) };
}

/**
 * BuildKit reads a Dockerfile with a bufio.Scanner of Go's default 64 KiB buffer: a line (without
 * its newline) of 65536 bytes or more is refused before anything is parsed.
 */
export const MAX_LINE_BYTES = 65535;

function checkLineLengths(lines: readonly string[]): void {
  for (const line of lines) {
    // A UTF-16 unit is at most 3 UTF-8 bytes; only a line that may be too long is measured.
    if (line.length * 3 > MAX_LINE_BYTES && Buffer.byteLength(line) > MAX_LINE_BYTES) {
      throw new DockerfileParseError(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`);
    }
  }
}

/** Parses one instruction line (an ONBUILD trigger) with the default escape token. */
export function parseLine(line: string, escape = '\\'): Node {
  return nodeFromLine(line, escape, 1, 1);
}
