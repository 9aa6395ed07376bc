/** API versions this server speaks, and the engine version it reports. */

/** Highest API version served (what Docker 28.x speaks); also the default for unversioned paths. */
export const API_VERSION = '1.51';
/** Lowest API version accepted. */
export const MIN_API_VERSION = '1.24';
/** Reported in the `Server` header. */
export const SERVER_VERSION = '0.1.0';

/** Compares dotted numeric versions as Docker does ("1.9" < "1.10"); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export const versionAtLeast = (v: string, min: string) => compareVersions(v, min) >= 0;
