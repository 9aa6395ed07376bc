/** Docker's go-units size formatting, the one size formatter (CLI tables, pull/push progress). */

const DECIMAL_ABBRS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Go's `%.*g` for positive numbers: `precision` significant digits, trailing zeros removed. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(value)));
  let s: string;
  const rounded = Number(value.toPrecision(precision));
  const rexp = Math.floor(Math.log10(Math.abs(rounded)));
  if (rexp < -4 || rexp >= precision) {
    s = rounded.toExponential(precision - 1);
    const [m = '', e = '0'] = s.split('e');
    let mant = m;
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const en = Number(e);
    s = `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  } else {
    s = rounded.toFixed(Math.max(0, precision - 1 - rexp));
    if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  }
  void exp;
  return s;
}

/** units.HumanSizeWithPrecision: decimal (1000-based) units, e.g. `4.26MB`. */
export function humanSizeWithPrecision(size: number, precision: number): string {
  let i = 0;
  while (size >= 1000 && i < DECIMAL_ABBRS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${formatG(size, precision)}${DECIMAL_ABBRS[i]}`;
}

/** units.HumanSize (4 significant digits). */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

const BINARY_ABBRS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** units.BytesSize: binary (1024-based) units with 4 significant digits, e.g. `1.952GiB`. */
export function bytesSize(size: number): string {
  let i = 0;
  while (size >= 1024 && i < BINARY_ABBRS.length - 1) {
    size /= 1024;
    i++;
  }
  return `${formatG(size, 4)}${BINARY_ABBRS[i]}`;
}
