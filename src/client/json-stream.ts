/** Decodes a stream of JSON values (newline separated or simply concatenated, like Go's json.Decoder). */
import type { Readable } from 'node:stream';

export async function* decodeJsonStream<T = unknown>(src: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const chunk of src) {
    buf += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    let end: number;
    while ((end = completeValueEnd(buf)) > 0) {
      const text = buf.slice(0, end).trim();
      buf = buf.slice(end);
      if (text) yield JSON.parse(text) as T;
    }
  }
  const rest = buf.trim();
  if (rest) yield JSON.parse(rest) as T;
}

/** Index just past the first complete top-level JSON object/array in `s`, or 0. */
function completeValueEnd(s: string): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      depth++;
      started = true;
    } else if (c === '}' || c === ']') {
      depth--;
      if (started && depth === 0) return i + 1;
    } else if (!started && c === '\n') {
      return i + 1; // blank line
    }
  }
  return 0;
}
