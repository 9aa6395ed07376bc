/**
 * Go's os.FileMode, which Docker's API (PathStat.mode) and BuildKit's file sync (fsutil's
 * Stat.mode) carry: permission bits plus type and special bits at the top (the directory bit is
 * bit 31, past what JavaScript's bitwise operators keep signed, so this adds and tests with
 * arithmetic and unsigned shifts).
 */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
  irregular: 2 ** 19,
};

export type FileType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'irregular';

const TYPE_BITS: Array<[FileType, number, number]> = [
  // [type, Unix S_IFMT value, Go mode bits]
  ['directory', 0o040000, GO_MODE.dir],
  ['symlink', 0o120000, GO_MODE.symlink],
  ['char', 0o020000, GO_MODE.device + GO_MODE.charDevice],
  ['block', 0o060000, GO_MODE.device],
  ['fifo', 0o010000, GO_MODE.namedPipe],
  ['socket', 0o140000, GO_MODE.socket],
];
const has = (mode: number, bit: number) => Math.floor(mode / bit) % 2 === 1;

/** A Unix st_mode as Go's os.FileMode. */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  m += TYPE_BITS.find(([, unix]) => (mode & 0o170000) === unix)?.[2] ?? 0;
  if (mode & 0o4000) m += GO_MODE.setuid;
  if (mode & 0o2000) m += GO_MODE.setgid;
  if (mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

/** Go's os.FileMode as a file type and Unix permission bits (with setuid, setgid, sticky). */
export function fromGoFileMode(goMode: number): { type: FileType; perm: number } {
  const g = goMode >>> 0;
  let perm = g & 0o777;
  if (has(g, GO_MODE.setuid)) perm |= 0o4000;
  if (has(g, GO_MODE.setgid)) perm |= 0o2000;
  if (has(g, GO_MODE.sticky)) perm |= 0o1000;
  let type: FileType = 'file';
  if (has(g, GO_MODE.dir)) type = 'directory';
  else if (has(g, GO_MODE.symlink)) type = 'symlink';
  else if (has(g, GO_MODE.namedPipe)) type = 'fifo';
  else if (has(g, GO_MODE.socket)) type = 'socket';
  else if (has(g, GO_MODE.device)) type = has(g, GO_MODE.charDevice) ? 'char' : 'block';
  else if (has(g, GO_MODE.irregular)) type = 'irregular';
  return { type, perm };
}
