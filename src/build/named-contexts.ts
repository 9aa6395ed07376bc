/**
 * BuildKit's named contexts (`docker buildx build --build-context name=value`), as its Dockerfile
 * frontend finds them (dockerui's NamedContext): the client sends each as a frontend attribute
 * `context:<name>` (or `context:<name>::<platform>`), and a FROM base, a stage's name or a COPY
 * --from / RUN --mount from= source that names one is replaced by it. A name is looked up in its
 * familiar form without `:latest` (`busybox`, `myreg:5000/x:1`), first with the platform.
 * The builder takes `docker-image://<ref>`, `local:<dir>` (a directory the client's session
 * shares), git repositories and http(s) URLs; an OCI layout from the client's store and bake's
 * inputs are refused by name.
 */
import type { Readable } from 'node:stream';
import { familiarString, parseNormalizedNamed } from '../image/reference.js';
import { isGitUrl } from './git-context.js';

const PREFIX = 'context:';

export type NamedContextSource =
  /** `docker-image://ref`; `ref` is `scratch` for an empty filesystem. */
  | { kind: 'image'; ref: string }
  /** `local:<name>`: the directory the client shares under that name. */
  | { kind: 'local'; dirName: string }
  /** A git repository (`git://…`, `git@…`, an http(s) URL of one), `#ref:subdir` as in a build context. */
  | { kind: 'git'; url: string }
  /** Any other http(s) URL: its body is the context's one file, `context`. */
  | { kind: 'http'; url: string };

export interface NamedContextMatch {
  /** The name as BuildKit shows it (`[context base] …`): with the platform when the attribute had it. */
  key: string;
  source: NamedContextSource;
}

export class UnsupportedNamedContext extends Error {}

/** What a build gets of the client's named contexts. */
export interface NamedContextProvider {
  lookup(name: string, platform: string): NamedContextMatch | undefined;
  /** The files of the directory the client shares as `dirName` (a `local:` context shown as `key`), less its .dockerignore's, as a tar. */
  openLocal(key: string, dirName: string, signal: AbortSignal): Promise<Readable>;
}

/** The named contexts among a frontend's attributes; empty when there are none. */
export class NamedContexts {
  private readonly values = new Map<string, string>();

  constructor(attrs: Record<string, string>) {
    for (const [k, v] of Object.entries(attrs)) if (k.startsWith(PREFIX) && k.length > PREFIX.length) this.values.set(k.slice(PREFIX.length), v);
  }

  get size(): number {
    return this.values.size;
  }

  /**
   * The context that replaces `name` (a base, a stage or a --from) built for `platform`
   * (`linux/amd64`), or undefined. `scratch` and `context` are never replaced, as in BuildKit.
   * Throws UnsupportedNamedContext for a source this builder cannot take.
   */
  lookup(name: string, platform: string): NamedContextMatch | undefined {
    if (this.values.size === 0 || /^(scratch|context)$/i.test(name)) return undefined;
    let short: string;
    try {
      short = familiarString(parseNormalizedNamed(name)).replace(/:latest$/, '');
    } catch {
      // Not a reference: no context can be named so; what the name is used for reports it.
      return undefined;
    }
    for (const key of [`${short}::${platform}`, short]) {
      const value = this.values.get(key);
      if (value !== undefined) return { key, source: parseSource(key, value) };
    }
    return undefined;
  }
}

function parseSource(key: string, value: string): NamedContextSource {
  const colon = value.indexOf(':');
  if (colon < 0) throw new UnsupportedNamedContext(`invalid context specifier ${value} for ${key}`);
  const kind = value.startsWith('git@') ? 'git' : value.slice(0, colon);
  const rest = value.slice(colon + 1);
  switch (kind) {
    case 'docker-image':
      return { kind: 'image', ref: rest.replace(/^\/\//, '') };
    case 'local':
      return { kind: 'local', dirName: rest };
    case 'git':
      return { kind: 'git', url: value };
    case 'http':
    case 'https':
      return isGitUrl(value) ? { kind: 'git', url: value } : { kind: 'http', url: value };
    case 'oci-layout':
    case 'input':
      throw new UnsupportedNamedContext(`named context ${key} (${value}): ${kind} sources are not supported by wharfd's builder`);
    default:
      throw new UnsupportedNamedContext(`unsupported context source ${kind} for ${key}`);
  }
}
