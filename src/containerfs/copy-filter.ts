/**
 * BuildKit's COPY filters, as its file copier applies them below each source: `--exclude`
 * patterns leave entries out, `--parents`' include pattern keeps only what it matches (and the
 * directories on the way to it). Paths are relative to the source being copied; the source
 * itself is never filtered. A directory that is not kept itself may still hold what is: it is
 * walked, and written only once something below it is.
 */
import { PatternMatcher } from '../lib/pattern-matcher.js';

/** Plain patterns (moby's patternmatcher), sent as they are to a walk worker. */
export interface CopyFilterSpec {
  include?: string[];
  exclude?: string[];
}

/** take: copied; pass: a directory walked but written only for what below it is taken; skip: left out whole. */
export type Verdict = 'take' | 'pass' | 'skip';

export class CopyFilter {
  private readonly include: PatternMatcher | null;
  private readonly exclude: PatternMatcher | null;

  constructor(spec: CopyFilterSpec) {
    this.include = spec.include?.length ? new PatternMatcher(spec.include) : null;
    this.exclude = spec.exclude?.length ? new PatternMatcher(spec.exclude) : null;
  }

  judge(rel: string, isDir: boolean): Verdict {
    if (this.exclude?.matches(rel)) {
      // An exception (`!pattern`) may bring back something below an excluded directory.
      return isDir && this.exclude.hasExclusions ? 'pass' : 'skip';
    }
    if (this.include && !this.include.matches(rel)) return isDir ? 'pass' : 'skip';
    return 'take';
  }
}

/** Whether `spec` filters anything. */
export const filters = (spec: CopyFilterSpec | undefined): spec is CopyFilterSpec => Boolean(spec?.include?.length || spec?.exclude?.length);
