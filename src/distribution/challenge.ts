/**
 * WWW-Authenticate parsing (RFC 7235 as registries send it):
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
 *   Basic realm="Registry Realm"
 */
export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, ... */
  scheme: string;
  params: Record<string, string>;
}

/** Parses every challenge of the header values (several schemes may be offered). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    const s = value;
    let current: Challenge | null = null;
    while (i < s.length) {
      while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++;
      const tokStart = i;
      while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
      const token = s.slice(tokStart, i);
      if (!token) {
        i++;
        continue;
      }
      let j = i;
      while (j < s.length && s[j] === ' ') j++;
      if (s[j] === '=' && current) {
        // key=value or key="quoted value"
        j++;
        while (j < s.length && s[j] === ' ') j++;
        let val = '';
        if (s[j] === '"') {
          j++;
          while (j < s.length && s[j] !== '"') {
            if (s[j] === '\\' && j + 1 < s.length) j++;
            val += s[j];
            j++;
          }
          j++;
        } else {
          const vStart = j;
          while (j < s.length && s[j] !== ',' && s[j] !== ' ') j++;
          val = s.slice(vStart, j);
        }
        current.params[token.toLowerCase()] = val;
        i = j;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}
