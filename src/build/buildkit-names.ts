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

export interface StageStepNames {
  /** The FROM step's name; null when the base is scratch or another stage. */
  from: string | null;
  /** Each command's name, or null for one BuildKit shows no step for. */
  commands: Array<string | null>;
}

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
 * The step names of `stage`, the `index`-th of a Dockerfile of `stageCount` stages, on `base`
 * (its FROM expanded); `baseIsStage` when that names an earlier stage.
 */
export function stageStepNames(stage: Stage, index: number, stageCount: number, base: string, baseIsStage: boolean): StageStepNames {
  const fromIsStep = !baseIsStage && base.toLowerCase() !== 'scratch';
  const total = (fromIsStep ? 1 : 0) + stage.commands.filter((c) => STEP_KINDS.has(c.kind)).length;
  const label = stageCount === 1 ? '' : `${stage.name || `stage-${index}`} `;
  const width = String(total).length;
  let i = 0;
  const next = (text: string) => `[${label}${String(++i).padStart(width)}/${total}] ${text}`;
  const from = fromIsStep ? next(`FROM ${sourceName(base)}`) : null;
  return { from, commands: stage.commands.map((c) => (STEP_KINDS.has(c.kind) ? next(upperKeyword(c.text)) : null)) };
}

/**
 * `names` once command `i` turned out to make no step (a WORKDIR that leaves the stage at `/`,
 * which BuildKit still counts in the total): it shows none, and the steps after it are numbered
 * one lower, padded as before.
 */
export function withoutStep(names: StageStepNames, i: number): StageStepNames {
  const lower = (name: string) =>
    name.replace(/^\[((?:\S+ )?) *(\d+)\/(\d+)\]/, (_all, label: string, n: string, total: string) => `[${label}${String(Number(n) - 1).padStart(total.length)}/${total}]`);
  return { from: names.from, commands: names.commands.map((name, j) => (j === i ? null : j > i && name ? lower(name) : name)) };
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
