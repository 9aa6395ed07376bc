/**
 * The names BuildKit's Dockerfile frontend gives the steps of a stage in its progress
 * (dockerfile2llb's prefixCommand): `[<stage> <i>/<n>] <instruction>`, where only FROM an image
 * and RUN, COPY, ADD and WORKDIR are steps (metadata instructions make none), `<n>` counts them,
 * `<i>` is padded to the width of `<n>`, and `<stage>` is the stage's name, or `stage-<index>`
 * for an unnamed one, left out when the Dockerfile has a single stage. A stage built on another
 * one shows no FROM step. wharf's BuildKit API builds with the classic builder, which tells it
 * these names as each step starts.
 */
import { fullString, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import type { Instruction, Stage } from './instructions.js';

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
function sourceName(base: string): string {
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

