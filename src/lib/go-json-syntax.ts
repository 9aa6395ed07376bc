/**
 * Where Go's json.Decoder stops in a JSON text, and its syntax errors word for word
 * (encoding/json's scanner: "invalid character 'i' looking for beginning of object key string",
 * "unexpected EOF", …). JSON.parse's own messages differ, and clients match Docker's.
 */

export type GoJSONScan = { end: number } | { error: string };

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Go's quoteChar: the offending byte as the scanner's error shows it. */
function quoteChar(b: number): string {
  if (b === 0x27) return `'\\''`;
  if (b === 0x22) return `'"'`;
  const named: Record<number, string> = { 0x07: '\\a', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x0b: '\\v', 0x5c: '\\\\' };
  if (named[b] !== undefined) return `'${named[b]}'`;
  if (b < 0x20 || b === 0x7f) return `'\\x${b.toString(16).padStart(2, '0')}'`;
  // A byte of 0x80 and above is quoted as the rune of the same number (Go's string(byte)).
  if (b >= 0x80 && b < 0xa0) return `'\\u${b.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(b)}'`;
}

class Stop {
  constructor(readonly message: string) {}
}

class Scanner {
  private i = 0;

  constructor(private readonly s: Buffer) {}

  private peek(): number | undefined {
    return this.s[this.i];
  }

  private fail(b: number | undefined, context: string): never {
    throw new Stop(b === undefined ? 'unexpected EOF' : `invalid character ${quoteChar(b)} ${context}`);
  }

  private skipWs(): void {
    while (this.i < this.s.length && WS.has(this.s[this.i]!)) this.i++;
  }

  value(): void {
    this.skipWs();
    const b = this.peek();
    if (b === 0x7b) return this.object();
    if (b === 0x5b) return this.array();
    if (b === 0x22) return this.string();
    if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) return this.number();
    if (b === 0x74) return this.literal('true');
    if (b === 0x66) return this.literal('false');
    if (b === 0x6e) return this.literal('null');
    this.fail(b, 'looking for beginning of value');
  }

  private object(): void {
    this.i++;
    this.skipWs();
    if (this.peek() === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWs();
      if (this.peek() !== 0x22) this.fail(this.peek(), 'looking for beginning of object key string');
      this.string();
      this.skipWs();
      if (this.peek() !== 0x3a) this.fail(this.peek(), 'after object key');
      this.i++;
      this.value();
      this.skipWs();
      const b = this.peek();
      this.i++;
      if (b === 0x7d) return;
      if (b !== 0x2c) this.fail(b, 'after object key:value pair');
    }
  }

  private array(): void {
    this.i++;
    this.skipWs();
    if (this.peek() === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.value();
      this.skipWs();
      const b = this.peek();
      this.i++;
      if (b === 0x5d) return;
      if (b !== 0x2c) this.fail(b, 'after array element');
    }
  }

  private string(): void {
    this.i++;
    for (;;) {
      const b = this.peek();
      if (b === undefined) this.fail(b, '');
      this.i++;
      if (b === 0x22) return;
      if (b < 0x20) this.fail(b, 'in string literal');
      if (b !== 0x5c) continue;
      const e = this.peek();
      this.i++;
      if (e === 0x75) {
        for (let k = 0; k < 4; k++) {
          const h = this.peek();
          this.i++;
          if (h === undefined || !/[0-9a-fA-F]/.test(String.fromCharCode(h))) this.fail(h, 'in \\u hexadecimal character escape');
        }
      } else if (e === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(e))) {
        this.fail(e, 'in string escape code');
      }
    }
  }

  private digits(): number {
    const start = this.i;
    while (this.peek() !== undefined && this.peek()! >= 0x30 && this.peek()! <= 0x39) this.i++;
    return this.i - start;
  }

  private number(): void {
    if (this.peek() === 0x2d) {
      this.i++;
      const b = this.peek();
      if (b === undefined || b < 0x30 || b > 0x39) this.fail(b, 'in numeric literal');
    }
    if (this.peek() === 0x30) this.i++;
    else this.digits();
    if (this.peek() === 0x2e) {
      this.i++;
      if (this.digits() === 0) this.fail(this.peek(), 'after decimal point in numeric literal');
    }
    if (this.peek() === 0x65 || this.peek() === 0x45) {
      this.i++;
      if (this.peek() === 0x2b || this.peek() === 0x2d) this.i++;
      if (this.digits() === 0) this.fail(this.peek(), 'in exponent of numeric literal');
    }
  }

  private literal(word: string): void {
    this.i++;
    for (let k = 1; k < word.length; k++) {
      const b = this.peek();
      if (b !== word.charCodeAt(k)) this.fail(b, `in literal ${word} (expecting '${word[k]}')`);
      this.i++;
    }
  }

  get offset(): number {
    return this.i;
  }
}

/** Scans the first JSON value of `text` as json.Decoder.Decode does: its end, or Go's error text. */
export function scanGoJSON(text: Buffer): GoJSONScan {
  const sc = new Scanner(text);
  try {
    sc.value();
    return { end: sc.offset };
  } catch (err) {
    if (err instanceof Stop) return { error: err.message };
    throw err;
  }
}

/** json.Decoder.More after the first value: more input that is not a closing bracket. */
export function goDecoderHasMore(text: Buffer, end: number): boolean {
  let i = end;
  while (i < text.length && WS.has(text[i]!)) i++;
  return i < text.length && text[i] !== 0x7d && text[i] !== 0x5d;
}
