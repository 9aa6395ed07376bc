/** Docker's go-units wording and parsing: HumanDuration, HumanSizeWithPrecision, RAMInBytes. */

export { humanDuration } from '../../lib/human-duration.js';

export { bytesSize, humanSize, humanSizeWithPrecision } from '../../lib/units.js';

function parseSize(sizeStr: string, base: 1000 | 1024): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(sizeStr[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  let num: string;
  let sfx: string;
  if (sizeStr[sep] !== ' ') {
    num = sizeStr.slice(0, sep + 1);
    sfx = sizeStr.slice(sep + 1);
  } else {
    num = sizeStr.slice(0, sep);
    sfx = sizeStr.slice(sep + 1);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new Error(`strconv.ParseFloat: parsing "${num}": invalid syntax`);
  }
  let size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0]!);
  if (power === -1) throw bad();
  size *= base ** (power + 1);
  if (sfx.length === 2 && sfx[1] !== 'b') throw bad();
  if (sfx.length === 3 && sfx.slice(1) !== 'ib') throw bad();
  return Math.trunc(size);
}

/** units.RAMInBytes: `512m`, `1g`, `1.5GiB` -> bytes (binary multipliers). */
export function ramInBytes(s: string): number {
  return parseSize(s, 1024);
}

/** units.FromHumanSize (decimal multipliers). */
export function fromHumanSize(s: string): number {
  return parseSize(s, 1000);
}

/** stringid.TruncateID: drops an algorithm prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  if (i >= 0) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** Display width of one code point (East Asian wide/fullwidth count 2). */
function charWidth(cp: number): number {
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** formatter.Ellipsis: cut to `max` display columns, the last one being `…`. */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const rs = [...s];
  if (max === 1) return rs[0] ?? '';
  if (displayWidth(s) <= max) return s;
  let out = '';
  let w = 0;
  for (const r of rs) {
    const cw = charWidth(r.codePointAt(0)!);
    if (w + cw > max - 1) break;
    out += r;
    w += cw;
  }
  return `${out}…`;
}
