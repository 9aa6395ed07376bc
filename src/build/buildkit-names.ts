/**
 * The names BuildKit's Dockerfile frontend gives the steps of a stage in its progress
 * (dockerfile2llb's prefixCommand): `[<stage> <i>/<n>] <instruction>`, where only FROM an image
 * and RUN, COPY, ADD and WORKDIR are steps (metadata instructions make none), `<n>` counts them,
 * `<i>` is padded to the width of `<n>`, and `<stage>` is the stage's name, or `stage-<index>`
 * for an unnamed one, left out when the Dockerfile has a single stage. A stage built on another
 * one shows no FROM step. The instruction's variables are expanded with the stage's environment
 * at that step (its ENV and ARG values), quotes kept, unset ones left as written. wharf's BuildKit
 * API builds with the classic builder, which tells it these names as each step starts.
 */
import { fullString, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import type { Instruction, Stage } from './instructions.js';
import { withModifier, type Env } from './shell-lex.js';

const STEP_KINDS = new Set<Instruction['kind']>(['run', 'copy', 'add', 'workdir']);

/** BuildKit's uppercaseCmd: the instruction's keyword in capitals, the rest as written. */
function upperKeyword(text: string): string {
  const sp = text.indexOf(' ');
  return sp < 0 ? text.toUpperCase() : text.slice(0, sp).toUpperCase() + text.slice(sp);
}

/** The base as BuildKit names its source: normalized, `:latest` added (`docker.io/library/busybox:latest`). */
export function sourceName(base: string): string {
  try {
    return fullString(withDefaultTag(parseNormalizedNamed(base)));
  } catch {
    return base;
  }
}

/**
 * The step names of a stage, each made when it is asked for: a stage can hold a million
 * commands, and naming them all up front held the daemon's thread for seconds.
 */
export class StageStepNames {
  /** The FROM step's name; null when the base is scratch or another stage. */
  readonly from: string | null;
  /** Each command's step number, 0 for one BuildKit shows no step for. */
  private readonly ordinals: Int32Array;
  /** Commands that turned out to make no step, in increasing order. */
  private readonly skipped: number[] = [];
  private readonly label: string;
  private readonly width: number;
  /** How many steps the stage shows. */
  readonly total: number;

  constructor(
    private readonly stage: Stage,
    index: number,
    stageCount: number,
    base: string,
    baseIsStage: boolean,
  ) {
    const fromIsStep = !baseIsStage && base.toLowerCase() !== 'scratch';
    let n = fromIsStep ? 1 : 0;
    this.ordinals = new Int32Array(stage.commands.length);
    stage.commands.forEach((c, i) => {
      if (STEP_KINDS.has(c.kind)) this.ordinals[i] = ++n;
    });
    this.label = stageCount === 1 ? '' : `${stage.name || `stage-${index}`} `;
    this.total = n;
    this.width = String(n).length;
    this.from = fromIsStep ? this.name(1, `FROM ${sourceName(base)}`) : null;
  }

  get count(): number {
    return this.ordinals.length;
  }

  /** Command `i`'s name, or null for one that makes no step. */
  command(i: number): string | null {
    const n = this.ordinals[i] ?? 0;
    if (n === 0 || this.isSkipped(i)) return null;
    return this.name(n - this.skippedBefore(i), upperKeyword(this.stage.commands[i]!.text));
  }

  /**
   * Command `i` turned out to make no step (a WORKDIR that leaves the stage at `/`, which
   * BuildKit still counts in the total): it shows none, and the steps after it are numbered one
   * lower, padded as before.
   */
  skip(i: number): void {
    const at = this.skippedBefore(i);
    if (this.skipped[at] !== i) this.skipped.splice(at, 0, i);
  }

  private name(n: number, text: string): string {
    return `[${this.label}${String(n).padStart(this.width)}/${this.total}] ${text}`;
  }

  private isSkipped(i: number): boolean {
    return this.skipped[this.skippedBefore(i)] === i;
  }

  /** How many skipped commands come before command `i` (a binary search). */
  private skippedBefore(i: number): number {
    let lo = 0;
    let hi = this.skipped.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.skipped[mid]! < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The step names of `stage`, the `index`-th of a Dockerfile of `stageCount` stages, on `base`
 * (its FROM expanded); `baseIsStage` when that names an earlier stage.
 */
export function stageStepNames(stage: Stage, index: number, stageCount: number, base: string, baseIsStage: boolean): StageStepNames {
  return new StageStepNames(stage, index, stageCount, base, baseIsStage);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * `text` with its variables expanded for display, as BuildKit's lexer does for a step's name
 * (RawQuotes, SkipUnsetEnv): quotes stay, nothing in single quotes expands, the escape token
 * keeps the next character as it is, `${v:-w}`, `${v-w}`, `${v:+w}` and `${v+w}` apply, and an
 * unset variable without such a word stays as written.
 */
export function withVariables(text: string, env: Env, escape = '\\'): string {
  let out = '';
  let inDouble = false;
  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (ch === escape) {
      const next = text[i + 1] ?? '';
      // In double quotes only `"`, `$` and the escape itself are escaped; elsewhere every character is.
      out += inDouble && next !== '"' && next !== '$' && next !== escape ? ch + next : next;
      i += 2;
    } else if (ch === '"') {
      inDouble = !inDouble;
      out += ch;
      i++;
    } else if (ch === "'" && !inDouble) {
      const end = text.indexOf("'", i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (ch === '$') {
      const [shown, used] = variable(text.slice(i + 1), env);
      out += shown;
      i += 1 + used;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** The variable reference at the start of `rest` (after its `$`): what shows, and how many characters it took. */
function variable(rest: string, env: Env): [string, number] {
  const bare = NAME.exec(rest);
  if (bare) {
    const value = env.get(bare[0]);
    return [value ?? `$${bare[0]}`, bare[0].length];
  }
  const braced = /^\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/.exec(rest);
  if (!braced) return ['$', 0];
  const [all, name, op, word] = braced;
  const value = env.get(name!);
  if (!op) return [value ?? `$${all}`, all.length];
  return [withModifier(value, op.startsWith(':'), op.endsWith('-') ? '-' : '+', word!), all.length];
}
