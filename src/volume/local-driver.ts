/**
 * The `local` volume driver's options (moby volume/local): `type`, `device`, `o` make the
 * volume a mount of its own (tmpfs, a bind with `type=none o=bind`, nfs...), made on first use
 * and undone when the last user stops. Without options a volume is a plain directory.
 */
import { invalidParameter, systemError } from '../lib/errors.js';
import { isMountPoint } from '../lib/mountinfo.js';
import { run, type CommandError } from '../lib/run.js';

const VALID_OPTS = new Set(['type', 'o', 'device', 'size']);
const MANDATORY: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/** Docker's name rule for local volumes. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateVolumeName(name: string): void {
  if (name.length === 1) throw invalidParameter('volume name is too short, names should be at least two alphanumeric characters');
  if (!NAME_RE.test(name)) {
    throw invalidParameter(
      `${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

export function validateLocalOptions(opts: Record<string, string> | null | undefined): void {
  if (!opts) return;
  for (const k of Object.keys(opts)) if (!VALID_OPTS.has(k)) throw invalidParameter(`invalid option: ${JSON.stringify(k)}`);
  if (opts.size !== undefined) throw invalidParameter('quota size requested but no quota support');
  for (const [opt, required] of Object.entries(MANDATORY)) {
    if (opts[opt] === undefined) continue;
    for (const r of required) if (opts[r] === undefined) throw invalidParameter(`missing required option: ${JSON.stringify(r)}`);
  }
}

/** Whether the options make the volume a mount of its own. */
export function needsMount(opts: Record<string, string> | null | undefined): boolean {
  return !!opts && (!!opts.device || !!opts.type);
}

export async function mountLocal(opts: Record<string, string>, target: string): Promise<void> {
  if (!opts.device) throw systemError('missing device in volume options');
  const args = ['-t', opts.type || 'none'];
  if (opts.o) args.push('-o', opts.o);
  // `--`: a device such as `-a` or `--bind` is a device to mount(8), never an option.
  args.push('--', opts.device, target);
  const failed = await run('mount', args).then(
    () => undefined,
    (err: CommandError) => err,
  );
  if (failed) {
    // mount(2)'s error as moby's local driver reports it, when mount(8)'s words say which it was.
    const errno = mountErrno(failed.stderr);
    const { flags, data } = mountFlags(opts.o ?? '');
    let msg = errno
      ? `mount ${opts.device}:${target}, flags: 0x${flags.toString(16)}${data ? `, data: ${data}` : ''}: ${errno}`
      : failed.stderr.trim() || failed.message;
    const pw = /(?:^|,)password=([^,]*)/.exec(opts.o ?? '')?.[1];
    if (pw) msg = msg.replaceAll(`password=${pw}`, 'password=********');
    throw systemError(`error while mounting volume '${target}': failed to mount local volume: ${msg}`);
  }
}

/** The errno text behind mount(8)'s message, where it names one. */
function mountErrno(stderr: string): string | undefined {
  if (/does not exist|no such file/i.test(stderr)) return 'no such file or directory';
  if (/permission denied/i.test(stderr)) return 'permission denied';
  if (/unknown filesystem type/i.test(stderr)) return 'no such device';
  if (/not a directory/i.test(stderr)) return 'not a directory';
  if (/already mounted|busy/i.test(stderr)) return 'device or resource busy';
  if (/wrong fs type, bad option, bad superblock/i.test(stderr)) return 'invalid argument';
  return undefined;
}

/** mount(2)'s flag bits of an `o=` list and the rest as data, as moby/sys/mount splits them. */
const FLAG_BITS: Record<string, [set: boolean, bits: number]> = {
  defaults: [false, 0],
  ro: [true, 0x1],
  rw: [false, 0x1],
  nosuid: [true, 0x2],
  suid: [false, 0x2],
  nodev: [true, 0x4],
  dev: [false, 0x4],
  noexec: [true, 0x8],
  exec: [false, 0x8],
  sync: [true, 0x10],
  async: [false, 0x10],
  remount: [true, 0x20],
  mand: [true, 0x40],
  nomand: [false, 0x40],
  dirsync: [true, 0x80],
  noatime: [true, 0x400],
  atime: [false, 0x400],
  nodiratime: [true, 0x800],
  diratime: [false, 0x800],
  bind: [true, 0x1000],
  rbind: [true, 0x1000 | 0x4000],
  relatime: [true, 0x200000],
  norelatime: [false, 0x200000],
  strictatime: [true, 0x1000000],
  nostrictatime: [false, 0x1000000],
};

export function mountFlags(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const opt of o.split(',').filter(Boolean)) {
    const f = FLAG_BITS[opt];
    if (!f) data.push(opt);
    else if (f[0]) flags |= f[1];
    else flags &= ~f[1];
  }
  return { flags, data: data.join(',') };
}

export async function unmountLocal(target: string): Promise<void> {
  if (!(await isMountPoint(target))) return;
  const failed = await run('umount', [target]).then(
    () => undefined,
    (err: CommandError) => err,
  );
  if (failed && (await isMountPoint(target))) throw systemError(`failed to unmount ${target}: ${failed.stderr.trim() || failed.message}`);
}

/** `mount --bind source target` (source may be a /proc/<pid>/fd/<n> magic link: the exact entry it names). */
export async function bindMount(source: string, target: string): Promise<void> {
  await run('mount', ['--bind', source, target]).catch((err: CommandError) => {
    throw systemError(`failed to mount resolved path: ${err.stderr.trim() || err.message}`);
  });
}
