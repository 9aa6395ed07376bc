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
    let msg = failed.stderr.trim() || failed.message;
    const pw = /(?:^|,)password=([^,]*)/.exec(opts.o ?? '')?.[1];
    if (pw) msg = msg.replaceAll(`password=${pw}`, 'password=********');
    throw systemError(`failed to mount local volume: ${msg}`);
  }
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
