/**
 * `RUN --mount=…` (BuildKit's Dockerfile syntax): comma-separated key=value fields, parsed as
 * BuildKit's frontend parses them, with its messages. The classic builder refuses the flag; a
 * build through BuildKit's API takes these types: `bind` (the default; from the context or a
 * stage or image), `cache`, `tmpfs` and `secret`.
 */
import { posix } from 'node:path';
import { DockerfileParseError } from './parser.js';

export type RunMount =
  | { type: 'bind'; target: string; source: string; from: string; readonly: boolean }
  | { type: 'cache'; target: string; id: string; readonly: boolean; mode: number; uid: number; gid: number; permSet: boolean; source: string; from: string }
  | { type: 'tmpfs'; target: string; size: number }
  /** `target` '' when the secret is only `env`, the environment variable it is given as. */
  | { type: 'secret'; target: string; id: string; required: boolean; mode: number; uid: number; gid: number; env?: string }
  /** `target` '' for BuildKit's default, /run/buildkit/ssh_agent.<n> (n counts the RUN's ssh mounts). */
  | { type: 'ssh'; target: string; id: string; required: boolean; mode: number; uid: number; gid: number };

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];

function bool(key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  const l = v.toLowerCase();
  if (['1', 't', 'true'].includes(l)) return true;
  if (['0', 'f', 'false'].includes(l)) return false;
  throw new DockerfileParseError(`invalid value for ${key}: ${v}`);
}

function int(key: string, v: string, radix: 8 | 10): number {
  if (!(radix === 8 ? /^0?[0-7]{1,4}$/ : /^\d{1,10}$/).test(v)) throw new DockerfileParseError(`invalid value for ${key}: ${v}`);
  return parseInt(v, radix);
}

/** Splits on commas outside double quotes, as Go's csv reader does for the flag's value. */
function fields(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of spec) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.filter((f) => f !== '');
}

/** BuildKit's words for an ssh mount whose agent id the client does not forward. */
export function noSshKey(id: string): string {
  return `no SSH key ${JSON.stringify(id)} forwarded from the client`;
}

export function parseRunMount(spec: string, expand: (w: string) => string = (w) => w): RunMount {
  const kv = new Map<string, string | undefined>();
  for (const f of fields(spec)) {
    const eq = f.indexOf('=');
    const key = (eq < 0 ? f : f.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : expand(f.slice(eq + 1));
    kv.set(key, value);
  }
  const type = (kv.get('type') ?? 'bind').toLowerCase();
  if (!TYPES.includes(type)) throw new DockerfileParseError(`unsupported mount type "${type}"`);
  const known: Record<string, string[]> = {
    bind: ['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'readonly', 'ro', 'rw', 'readwrite'],
    cache: ['type', 'target', 'dst', 'destination', 'id', 'readonly', 'ro', 'rw', 'readwrite', 'sharing', 'mode', 'uid', 'gid', 'source', 'src', 'from'],
    tmpfs: ['type', 'target', 'dst', 'destination', 'size'],
    secret: ['type', 'target', 'dst', 'destination', 'id', 'source', 'src', 'required', 'mode', 'uid', 'gid', 'env'],
    ssh: ['type', 'target', 'dst', 'destination', 'id', 'required', 'mode', 'uid', 'gid'],
  };
  for (const k of kv.keys()) {
    if (!known[type]!.includes(k)) throw new DockerfileParseError(`unexpected key '${k}' in '${spec}'`);
  }
  const get = (...keys: string[]) => keys.map((k) => kv.get(k)).find((v) => v !== undefined);
  let target = get('target', 'dst', 'destination') ?? '';
  if (type === 'secret') {
    // BuildKit's: source names the secret before id does; the target's name when neither is given.
    const id = get('source', 'src') || kv.get('id') || (target ? posix.basename(target) : '');
    if (!id) throw new DockerfileParseError('one of source, target required');
    const env = kv.get('env');
    if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new DockerfileParseError(`invalid secret environment variable name ${JSON.stringify(env)}`);
    // Given as an environment variable only, unless a target asks for the file too.
    if (!target && env === undefined) target = `/run/secrets/${posix.basename(id)}`;
    return {
      type,
      ...(env !== undefined ? { env } : {}),
      target: target && clean(target),
      id,
      required: kv.has('required') ? bool('required', kv.get('required')) : false,
      mode: kv.get('mode') !== undefined ? int('mode', kv.get('mode')!, 8) : 0o400,
      uid: kv.get('uid') !== undefined ? int('uid', kv.get('uid')!, 10) : 0,
      gid: kv.get('gid') !== undefined ? int('gid', kv.get('gid')!, 10) : 0,
    };
  }
  if (type === 'ssh') {
    return {
      type,
      target: target && clean(target),
      id: kv.get('id') || 'default',
      required: kv.has('required') ? bool('required', kv.get('required')) : false,
      mode: kv.get('mode') !== undefined ? int('mode', kv.get('mode')!, 8) : 0o600,
      uid: kv.get('uid') !== undefined ? int('uid', kv.get('uid')!, 10) : 0,
      gid: kv.get('gid') !== undefined ? int('gid', kv.get('gid')!, 10) : 0,
    };
  }
  if (!target) throw new DockerfileParseError('mount destination not specified');
  const readonly = kv.has('readonly') || kv.has('ro') ? bool('readonly', get('readonly', 'ro')) : kv.has('rw') || kv.has('readwrite') ? !bool('rw', get('rw', 'readwrite')) : type === 'bind';
  if (type === 'tmpfs') {
    const size = kv.get('size');
    return { type, target: clean(target), size: size === undefined ? 0 : parseSize(size) };
  }
  const source = get('source', 'src') ?? '';
  const from = kv.get('from') ?? '';
  if (type === 'cache') {
    const sharing = (kv.get('sharing') ?? 'shared').toLowerCase();
    if (!['shared', 'private', 'locked'].includes(sharing)) throw new DockerfileParseError(`unsupported sharing value "${sharing}"`);
    return {
      type,
      target: clean(target),
      id: kv.get('id') || clean(target),
      readonly,
      mode: kv.get('mode') !== undefined ? int('mode', kv.get('mode')!, 8) : 0o755,
      uid: kv.get('uid') !== undefined ? int('uid', kv.get('uid')!, 10) : 0,
      gid: kv.get('gid') !== undefined ? int('gid', kv.get('gid')!, 10) : 0,
      permSet: kv.has('mode') || kv.has('uid') || kv.has('gid'),
      source,
      from,
    };
  }
  return { type: 'bind', target: clean(target), source: source || '/', from, readonly };
}

/** Go's path.Clean: a relative target stays relative (the caller puts it under the working directory). */
function clean(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new DockerfileParseError(`invalid value for size: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}
