/**
 * The `local` volume driver's options (moby volume/local): `type`, `device`, `o` make the
 * volume a mount of its own (tmpfs, a bind with `type=none o=bind`, nfs...), made on first use
 * and undone when the last user stops. Without options a volume is a plain directory.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { invalidParameter, systemError } from '../lib/errors.js';

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

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

export async function mountLocal(opts: Record<string, string>, target: string): Promise<void> {
  if (!opts.device) throw systemError('missing device in volume options');
  const args = ['-t', opts.type || 'none'];
  if (opts.o) args.push('-o', opts.o);
  // `--`: a device such as `-a` or `--bind` is a device to mount(8), never an option.
  args.push('--', opts.device, target);
  const r = await run('mount', args);
  if (r.code !== 0) {
    let msg = r.stderr.trim();
    const pw = /(?:^|,)password=([^,]*)/.exec(opts.o ?? '')?.[1];
    if (pw) msg = msg.replaceAll(`password=${pw}`, 'password=********');
    throw systemError(`failed to mount local volume: ${msg}`);
  }
}

export async function unmountLocal(target: string): Promise<void> {
  if (!(await isMountPoint(target))) return;
  const r = await run('umount', [target]);
  if (r.code !== 0 && (await isMountPoint(target))) throw systemError(`failed to unmount ${target}: ${r.stderr.trim()}`);
}

/** Whether `path` is a mount point, from /proc/self/mountinfo (octal escapes decoded). */
export async function isMountPoint(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === path) return true;
  }
  return false;
}
