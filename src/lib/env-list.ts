/**
 * Environment lists (`KEY=value` entries) merged as moby merges them. Each keeps the keys' places
 * in a map: a search of the list per entry made an ENV of many new keys, or an exec's Env,
 * quadratic on the daemon's thread.
 */

/** An entry's key: what precedes its first `=` (all of a bare `KEY`). */
export const envKey = (entry: string): string => {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
};

/**
 * ENV as the classic builder applies it (moby's dispatchEnv): each pair replaces the first entry
 * of its key where that entry stands, or is appended, and a later pair of the instruction sees
 * the earlier ones. A new array.
 */
export function setEnv(list: readonly string[], pairs: Iterable<readonly [string, string]>): string[] {
  const out = [...list];
  const at = new Map<string, number>();
  out.forEach((entry, i) => {
    const key = envKey(entry);
    if (!at.has(key)) at.set(key, i);
  });
  for (const [key, value] of pairs) {
    const i = at.get(key);
    if (i !== undefined) out[i] = `${key}=${value}`;
    else at.set(key, out.push(`${key}=${value}`) - 1);
  }
  return out;
}

/**
 * moby's ReplaceOrAppendEnvValues (an exec's Env over the container's): `K=v` replaces the last
 * default of its key or is appended, a bare `K` unsets it. Only the defaults are looked up, so a
 * key given twice is appended twice, as in moby. A new array.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out = [...defaults];
  const at = new Map(out.map((entry, i) => [envKey(entry), i]));
  const unset = new Set<number>();
  for (const kv of overrides) {
    const i = at.get(envKey(kv));
    if (!kv.includes('=')) {
      if (i !== undefined) unset.add(i);
    } else if (i !== undefined) {
      out[i] = kv;
      unset.delete(i);
    } else {
      out.push(kv);
    }
  }
  return unset.size ? out.filter((_, i) => !unset.has(i)) : out;
}
