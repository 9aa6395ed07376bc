/**
 * Versions and commits of the programs the engine runs (runc, conmon, the --init binary), as
 * /version lists its components and /info its commits. Asked once per daemon, lazily: the
 * programs do not change under a running daemon and nothing on the run path needs them.
 */
import { basename } from 'node:path';
import { run } from '../lib/run.js';

export interface ComponentVersion {
  name: string;
  version: string;
  commit: string;
}

/** `<name> version X` and an optional `commit: Y` line (runc, conmon, tini and catatonit print both or the first). */
export function parseVersionOutput(name: string, out: string): ComponentVersion {
  const version = /version\s+v?(\S+)/i.exec(out)?.[1] ?? '';
  const commit = /^commit:\s*(\S+)/im.exec(out)?.[1] ?? '';
  return { name, version, commit: commit === 'unknown' ? '' : commit };
}

async function ask(name: string, bin: string): Promise<ComponentVersion | null> {
  try {
    return parseVersionOutput(name, await run(bin, ['--version']));
  } catch {
    return null;
  }
}

export class ComponentVersions {
  private cached: Promise<ComponentVersion[]> | undefined;

  constructor(private readonly bins: { runtime: string; conmon: string; init?: string }) {}

  /** runc, conmon and docker-init (whichever init binary --init uses), those that answer. */
  all(): Promise<ComponentVersion[]> {
    this.cached ??= Promise.all([
      ask(basename(this.bins.runtime), this.bins.runtime),
      ask('conmon', this.bins.conmon),
      this.bins.init ? ask('docker-init', this.bins.init) : Promise.resolve(null),
    ]).then((list) => list.filter((c): c is ComponentVersion => c !== null));
    return this.cached;
  }
}
