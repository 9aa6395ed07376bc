/**
 * ENV as the classic builder applies it (moby's dispatchEnv): each pair replaces the first entry
 * of its key where that entry stands, or is appended, and a later pair of the instruction sees
 * the earlier ones. The keys' places are kept in a map: a search of the list for each pair made
 * an ENV of many new keys quadratic on the daemon's thread.
 */
const keyOf = (entry: string): string => {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
};

/** `list` with `pairs` set in it, as `key=value` entries (a new array). */
export function setEnv(list: readonly string[], pairs: Iterable<readonly [string, string]>): string[] {
  const out = [...list];
  const at = new Map<string, number>();
  out.forEach((entry, i) => {
    const key = keyOf(entry);
    if (!at.has(key)) at.set(key, i);
  });
  for (const [key, value] of pairs) {
    const i = at.get(key);
    if (i !== undefined) out[i] = `${key}=${value}`;
    else at.set(key, out.push(`${key}=${value}`) - 1);
  }
  return out;
}
