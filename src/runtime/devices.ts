/**
 * Host devices for the OCI spec, as Docker resolves them (moby daemon/pkg/oci/devices_linux.go
 * and containerd's HostDevices): `--device` mappings (one node, or every node under a
 * directory), and the whole host /dev for `--privileged`.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidParameter, systemError } from '../lib/errors.js';
import type { OciLinuxResources, OciSpec } from './oci-spec.js';

export type OciDevice = NonNullable<OciSpec['linux']['devices']>[number];
export type DeviceCgroupRule = NonNullable<OciLinuxResources['devices']>[number];

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

const S_IFMT = 0o170000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

/** Walking a directory given to --device stops here: `--device /` must not walk the host's disk. */
const MAX_WALK_ENTRIES = 10_000;

class NotADeviceError extends Error {
  constructor() {
    super('not a device node');
  }
}

/** glibc's major()/minor() of a dev_t. */
export function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** The node at `path` (not followed if a symlink): block, char or fifo; anything else is not a device. */
export async function deviceFromPath(path: string): Promise<OciDevice> {
  const st = await lstat(path, { bigint: true });
  const fmt = Number(st.mode) & S_IFMT;
  const type = fmt === S_IFBLK ? 'b' : fmt === S_IFCHR ? 'c' : fmt === S_IFIFO ? 'p' : undefined;
  if (!type) throw new NotADeviceError();
  const { major, minor } = majorMinor(st.rdev);
  return { type, path, major, minor, fileMode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) };
}

function errnoText(err: unknown): string {
  if (err instanceof NotADeviceError) return err.message;
  const e = err as NodeJS.ErrnoException;
  const texts: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'file name too long',
  };
  return (e.code && texts[e.code]) || e.message;
}

function rule(d: OciDevice, access: string): DeviceCgroupRule {
  return { allow: true, type: d.type, major: d.major, minor: d.minor, access };
}

/**
 * One `--device host[:container[:perms]]` mapping: the node itself, or every node under a
 * directory (container paths keep their place under the container path). A symlinked host path
 * is followed first, as Docker does. Errors carry Docker's message.
 */
export async function devicesFromPath(
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): Promise<{ devices: OciDevice[]; rules: DeviceCgroupRule[] }> {
  let resolved = pathOnHost;
  try {
    if ((await lstat(pathOnHost)).isSymbolicLink()) resolved = await realpath(pathOnHost);
  } catch {
    // the lstat below reports it
  }
  const devices: OciDevice[] = [];
  let firstErr: unknown;
  try {
    devices.push({ ...(await deviceFromPath(resolved)), path: pathInContainer });
  } catch (err) {
    firstErr = err;
  }
  if (firstErr instanceof NotADeviceError && (await stat(resolved).catch(() => undefined))?.isDirectory()) {
    let seen = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (++seen > MAX_WALK_ENTRIES) {
          throw systemError(`error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: more than ${MAX_WALK_ENTRIES} entries under it`);
        }
        const full = join(dir, e.name);
        if (e.isDirectory()) {
          await walk(full);
          continue;
        }
        const d = await deviceFromPath(full).catch(() => undefined);
        if (d) devices.push({ ...d, path: pathInContainer + full.slice(resolved.length) });
      }
    };
    await walk(resolved);
  }
  if (devices.length) return { devices, rules: devices.map((d) => rule(d, permissions)) };
  throw systemError(`error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: ${errnoText(firstErr)}`);
}

/** Directories of /dev that are never a privileged container's devices (containerd's list). */
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every block and char device under `root` (the host's /dev), as containerd's HostDevices lists them. */
export async function hostDevices(root = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(full);
        continue;
      }
      if (e.name === 'console') continue;
      let d: OciDevice;
      try {
        d = await deviceFromPath(full);
      } catch (err) {
        if (err instanceof NotADeviceError || (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (d.type !== 'p') out.push(d);
    }
  };
  await walk(root);
  return out;
}

/** Docker's `--device-cgroup-rule` syntax: `c 1:3 rwm`, `b *:* m`, `a *:* rwm`. */
export function parseDeviceCgroupRule(text: string): DeviceCgroupRule {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(text);
  if (!m) throw invalidParameter(`invalid device cgroup rule format: '${text}'`);
  const out: DeviceCgroupRule = { allow: true, type: m[1]!, access: m[4]! };
  if (m[2] !== '*') out.major = Number(m[2]); // absent: any (as runc reads Docker's -1)
  if (m[3] !== '*') out.minor = Number(m[3]);
  return out;
}

/** Create-time checks of HostConfig.Devices (the Docker CLI's own checks, for API clients). */
export function validateDeviceMappings(devices: DeviceMapping[] | null | undefined): void {
  for (const d of devices ?? []) {
    const host = d.PathOnHost ?? '';
    if (!host.startsWith('/')) throw invalidParameter(`${host} is not an absolute path`);
    const inContainer = d.PathInContainer || host;
    if (!inContainer.startsWith('/')) throw invalidParameter(`${inContainer} is not an absolute path`);
    if (/[\0\n]/.test(host + inContainer)) throw invalidParameter(`bad format for path: ${JSON.stringify(host)}`);
    const perms = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) throw invalidParameter(`bad mode specified: ${perms}`);
  }
}

/**
 * The devices for a container and the cgroup rules of its mappings (moby's WithDevices): a
 * privileged container gets every host device (its cgroup allows all); otherwise each mapping
 * adds its nodes and rules. buildSpec adds the `--device-cgroup-rule`s after these.
 */
export async function resolveDevices(
  hc: { Privileged?: boolean; Devices?: DeviceMapping[] | null },
  devRoot = '/dev',
): Promise<{ devices: OciDevice[]; rules: DeviceCgroupRule[] }> {
  const devices: OciDevice[] = [];
  const rules: DeviceCgroupRule[] = [];
  if (hc.Privileged) {
    devices.push(...(await hostDevices(devRoot)));
    for (const m of hc.Devices ?? []) {
      const inContainer = m.PathInContainer || m.PathOnHost!;
      if (m.PathOnHost === inContainer) continue; // already there with the whole /dev
      devices.push(...(await devicesFromPath(m.PathOnHost!, inContainer, 'rwm')).devices);
    }
    return { devices, rules };
  }
  for (const m of hc.Devices ?? []) {
    const r = await devicesFromPath(m.PathOnHost!, m.PathInContainer || m.PathOnHost!, m.CgroupPermissions || 'rwm');
    devices.push(...r.devices);
    rules.push(...r.rules);
  }
  return { devices, rules };
}
