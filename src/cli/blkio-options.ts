/** Docker's per-device block IO flags of run/create: --blkio-weight-device and --device-{read,write}-{bps,iops}. */
import { FlagError } from './cli-context.js';
import { ramInBytes } from './format/units.js';
import type { ThrottleDevice } from '../api/types.js';

/** `DEVICE:VALUE` with a /dev/ path (Docker's validate*Device functions). */
function split(flag: string, v: string): [string, string] {
  const colon = v.indexOf(':');
  if (colon < 0) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: bad format: ${v}`);
  const path = v.slice(0, colon);
  if (!path.startsWith('/dev/')) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: bad format for device path: ${v}`);
  return [path, v.slice(colon + 1)];
}

export function weightDevices(values: string[]): Array<{ Path: string; Weight: number }> {
  return values.map((v) => {
    const [Path, w] = split('--blkio-weight-device', v);
    const weight = /^\d+$/.test(w) ? Number(w) : NaN;
    if (!(weight === 0 || (weight >= 10 && weight <= 1000))) {
      throw new FlagError(`invalid argument "${v}" for "--blkio-weight-device" flag: invalid weight for device: ${v}`);
    }
    return { Path, Weight: weight };
  });
}

export function bpsDevices(flag: string, values: string[]): ThrottleDevice[] {
  return values.map((v) => {
    const [Path, r] = split(flag, v);
    let rate = NaN;
    try {
      rate = ramInBytes(r);
    } catch {
      // reported below
    }
    if (!Number.isFinite(rate) || rate < 0) {
      throw new FlagError(
        `invalid argument "${v}" for "${flag}" flag: invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`,
      );
    }
    return { Path, Rate: rate };
  });
}

export function iopsDevices(flag: string, values: string[]): ThrottleDevice[] {
  return values.map((v) => {
    const [Path, r] = split(flag, v);
    if (!/^\d+$/.test(r)) {
      throw new FlagError(`invalid argument "${v}" for "${flag}" flag: invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`);
    }
    return { Path, Rate: Number(r) };
  });
}
