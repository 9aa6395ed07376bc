/**
 * Go's mime.ParseMediaType, for the headers Docker reads with it (Content-Disposition): a media
 * type token, then `; name=value` parameters whose values are tokens or quoted strings, RFC 2231
 * extended values (`name*=utf-8''%e2%82%ac`) and continuations (`name*0`, `name*1*`). Names are
 * lowercased. Like Go it answers no parameters at all when one is malformed or given twice, so a
 * caller that only wants one parameter finds none.
 */

const TSPECIALS = '()<>@,;:\\"/[]?=';
const isTokenChar = (c: string) => c > ' ' && c < '\x7f' && !TSPECIALS.includes(c);

export interface MediaType {
  type: string;
  params: Record<string, string> | null;
}

function token(s: string, at: number): number {
  let i = at;
  while (i < s.length && isTokenChar(s[i]!)) i++;
  return i;
}

/** A quoted string from its opening quote: the value and the index after the closing quote. */
function quoted(s: string, at: number): [string, number] | null {
  let out = '';
  for (let i = at + 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [out, i + 1];
    // Go keeps a backslash that escapes no special character (MSIE's unescaped paths).
    if (c === '\\' && i + 1 < s.length && TSPECIALS.includes(s[i + 1]!)) out += s[++i];
    else if (c === '\r' || c === '\n') return null;
    else out += c;
  }
  return null;
}

/** An RFC 2231 extended value's percent-encoded part (its bytes read as UTF-8); null when malformed. */
function percentUnescape(v: string): string | null {
  if (!/^(?:[^%]|%[0-9a-fA-F]{2})*$/.test(v)) return null;
  return Buffer.from(v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

export function parseMediaType(header: string): MediaType | null {
  const semi = header.indexOf(';');
  const type = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  const slash = type.indexOf('/');
  const validToken = (t: string) => t !== '' && token(t, 0) === t.length;
  if (slash < 0 ? !validToken(type) : !validToken(type.slice(0, slash)) || !validToken(type.slice(slash + 1))) return null;
  const raw = new Map<string, string>();
  let s = semi < 0 ? '' : header.slice(semi);
  while (s.length) {
    s = s.trimStart();
    if (s === '') break;
    if (s[0] !== ';') return { type, params: null };
    s = s.slice(1).trimStart();
    if (s === '') break; // one trailing `;` is allowed
    const nameEnd = token(s, 0);
    const name = s.slice(0, nameEnd).toLowerCase();
    let i = nameEnd;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (name === '' || s[i] !== '=') return { type, params: null };
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    let value: string;
    if (s[i] === '"') {
      const q = quoted(s, i);
      if (!q) return { type, params: null };
      [value, i] = q;
    } else {
      const end = token(s, i);
      if (end === i) return { type, params: null };
      value = s.slice(i, end);
      i = end;
    }
    // Go allows a name twice only with the same value.
    if (raw.has(name) && raw.get(name) !== value) return { type, params: null };
    raw.set(name, value);
    s = s.slice(i);
  }
  return { type, params: combine(raw) };
}

/** Folds extended values and continuations into their plain names, as Go does after parsing. */
function combine(raw: Map<string, string>): Record<string, string> {
  const params: Record<string, string> = {};
  const bases = new Set<string>();
  for (const name of raw.keys()) {
    const star = name.indexOf('*');
    if (star < 0) params[name] = raw.get(name)!;
    else bases.add(name.slice(0, star));
  }
  for (const base of bases) {
    const single = raw.get(`${base}*`);
    if (single !== undefined) {
      const v = extended(single);
      if (v !== null) params[base] = v;
      continue;
    }
    // As Go: a piece that does not decode adds nothing; the pieces before and after still count.
    let out = '';
    let valid = false;
    for (let n = 0; ; n++) {
      const plain = raw.get(`${base}*${n}`);
      const enc = raw.get(`${base}*${n}*`);
      if (plain === undefined && enc === undefined) break;
      valid = true;
      if (plain !== undefined) out += plain;
      else out += (n === 0 ? extended(enc!) : percentUnescape(enc!)) ?? '';
    }
    if (valid) params[base] = out;
  }
  return params;
}

/** `charset'language'value` with charset utf-8 or us-ascii (any case); null otherwise. */
function extended(v: string): string | null {
  const parts = v.split("'");
  if (parts.length !== 3) return null;
  const charset = parts[0]!.toLowerCase();
  if (charset !== 'utf-8' && charset !== 'us-ascii') return null;
  return percentUnescape(parts[2]!);
}
