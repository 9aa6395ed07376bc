/**
 * Go's time.ParseDuration, which Docker applies to the durations it takes as text (HEALTHCHECK's
 * options in a Dockerfile or a commit's --change, the CLI's --health-* flags, --since/--until):
 * "1h30m", "1.5s", "-2ms", "300us". Same units (micro written `us`, U+00B5 or U+03BC), same
 * overflow limit and same messages.
 */

const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX = 1n << 63n;

/** time's own quoting in these messages: non-ASCII and control bytes as \xNN, `"` and `\` escaped. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch < ' ' || ch > '\x7f') for (const b of Buffer.from(ch, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  }
  return `${out}"`;
}

/** The duration in nanoseconds, exactly; throws Error with Go's message. */
export function parseGoDurationNs(text: string): bigint {
  const invalid = () => new Error(`time: invalid duration ${quote(text)}`);
  let s = text;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, intDigits = '', fracDigits] = m;
    if (intDigits === '' && !fracDigits) throw invalid();
    s = s.slice(whole.length);
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') throw new Error(`time: missing unit in duration ${quote(text)}`);
    s = s.slice(unitText.length);
    const unit = UNIT_NS.get(unitText);
    if (unit === undefined) throw new Error(`time: unknown unit ${quote(unitText)} in duration ${quote(text)}`);
    let v = BigInt(intDigits || '0');
    if (v > MAX / unit) throw invalid();
    v *= unit;
    if (fracDigits) {
      // As Go does: the fraction's digits as an integer (until it would overflow) over a power of
      // ten, added as float64(f) * (float64(unit) / scale), truncated.
      let f = 0n;
      let scale = 1;
      for (const c of fracDigits) {
        const next = f * 10n + BigInt(c);
        if (f > (MAX - 1n) / 10n || next > MAX) break;
        f = next;
        scale *= 10;
      }
      if (f > 0n) v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX) throw invalid();
    }
    total += v;
    if (total > MAX) throw invalid();
  }
  if (neg) return -total;
  if (total > MAX - 1n) throw invalid();
  return total;
}

/** The duration in nanoseconds as a number (exact up to 2^53 ns, about 104 days). */
export function parseGoDuration(text: string): number {
  return Number(parseGoDurationNs(text));
}

/** `digits` decimal places of v (trailing zeros and a bare point dropped), as Go's fmtFrac. */
function withFraction(v: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const frac = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return `${v / scale}${frac ? `.${frac}` : ''}`;
}

/** Go's time.Duration String() of a count of nanoseconds: 1ns, 1.5µs, 300ms, 1.5s, 2m0s, 1h0m0.001s. */
export function formatGoDuration(ns: number | bigint): string {
  let v = BigInt(ns);
  if (v === 0n) return '0s';
  const sign = v < 0n ? '-' : '';
  if (v < 0n) v = -v;
  if (v < 1_000n) return `${sign}${v}ns`;
  if (v < 1_000_000n) return `${sign}${withFraction(v, 3)}µs`;
  if (v < 1_000_000_000n) return `${sign}${withFraction(v, 6)}ms`;
  const secs = `${withFraction(v % 60_000_000_000n, 9)}s`;
  const mins = v / 60_000_000_000n;
  if (mins === 0n) return `${sign}${secs}`;
  const hours = mins / 60n;
  return `${sign}${hours ? `${hours}h` : ''}${mins % 60n}m${secs}`;
}
