/**
 * Build arguments as Docker's classic builder tracks them: values from `--build-arg` (null =
 * declared without a value and not in the client's environment), ARGs declared in the stage and
 * before the first FROM (meta ARGs), the predefined proxy ARGs that need no declaration, and
 * which of the given ones some ARG consumed (the rest earn the "not consumed" warning).
 */
export const PREDEFINED_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

export class BuildArgs {
  private allowed = new Map<string, string | undefined>();
  private readonly meta: Map<string, string | undefined>;
  private readonly referenced: Set<string>;

  constructor(
    readonly fromOptions: ReadonlyMap<string, string | null>,
    meta?: Map<string, string | undefined>,
    referenced?: Set<string>,
  ) {
    this.meta = meta ?? new Map<string, string | undefined>();
    this.referenced = referenced ?? new Set();
  }

  /** A stage's copy: meta ARGs and references shared, declarations reset. */
  forStage(): BuildArgs {
    return new BuildArgs(this.fromOptions, this.meta, this.referenced);
  }

  addArg(key: string, value: string | undefined): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  addMetaArg(key: string, value: string | undefined): void {
    this.meta.set(key, value);
  }

  private get(key: string, source: Map<string, string | undefined>): string | undefined {
    const opt = this.fromOptions.get(key);
    if (opt !== undefined && opt !== null) return opt;
    const dflt = source.get(key);
    if (dflt === undefined) {
      const m = this.meta.get(key);
      return m;
    }
    return dflt;
  }

  private all(source: Map<string, string | undefined>): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of new Set([...source.keys(), ...PREDEFINED_ARGS])) {
      if (!source.has(key) && PREDEFINED_ARGS.has(key)) {
        const opt = this.fromOptions.get(key);
        if (opt !== undefined && opt !== null) out.set(key, opt);
        continue;
      }
      const v = this.get(key, source);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }

  /** Declared args of the stage with their values. */
  allAllowed(): Map<string, string> {
    return this.all(this.allowed);
  }

  /** Meta args (for FROM). */
  allMeta(): Map<string, string> {
    return this.all(this.meta);
  }

  /** `KEY=value` of the allowed args that the environment does not override. */
  filterAllowed(env: readonly string[]): string[] {
    const keys = new Set(env.map((e) => e.split('=', 1)[0]));
    const out: string[] = [];
    for (const [k, v] of this.allAllowed()) if (!keys.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !PREDEFINED_ARGS.has(key);
  }

  /** The given args no ARG consumed, sorted (predefined ones never count). */
  unconsumed(): string[] {
    return [...this.fromOptions.keys()].filter((k) => !PREDEFINED_ARGS.has(k) && !this.referenced.has(k)).sort();
  }
}

/** Docker's prependEnvOnCmd: `|N K=v …` before the command, for the cache key and history. */
export function prependEnvOnCmd(args: BuildArgs, vars: string[], cmd: string[]): string[] {
  const keep = vars.filter((v) => args.isReferencedOrNotBuiltin(v.split('=', 1)[0]!)).sort();
  return [`|${keep.length}`, ...keep, ...cmd];
}
