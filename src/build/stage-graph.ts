/**
 * Which stages of a multi-stage Dockerfile need which: a stage needs the stage its FROM names and
 * the stages its `COPY --from` and `RUN --mount=…,from=` name (by name or index). A `from` holding
 * a variable could name any earlier stage, so it needs them all. Stages that need nothing of each other may be built
 * at the same time (BuildKit does; Docker's classic builder builds them in order).
 */
import type { Stage } from './instructions.js';
import { parseRunMount, type RunMount } from './run-mounts.js';

/** For each stage, the indexes of the earlier stages it needs. `bases` are the FROM names, expanded. */
export function stageDependencies(stages: readonly Stage[], bases: readonly string[]): number[][] {
  const byName = new Map<string, number>();
  return stages.map((stage, i) => {
    const deps = new Set<number>();
    const base = byName.get(bases[i]!.toLowerCase());
    if (base !== undefined) deps.add(base);
    for (const from of stageRefs(stage)) {
      if (from.includes('$')) {
        for (let j = 0; j < i; j++) deps.add(j);
      } else if (/^\d+$/.test(from)) {
        if (Number(from) < i) deps.add(Number(from));
      } else {
        const j = byName.get(from.toLowerCase());
        if (j !== undefined) deps.add(j);
      }
    }
    if (stage.name) byName.set(stage.name, i);
    return [...deps].sort((a, b) => a - b);
  });
}

/** What the stage's instructions take files from: COPY --from and the `from=` of RUN's mounts. */
function stageRefs(stage: Stage): string[] {
  const out: string[] = [];
  for (const inst of stage.commands) {
    if (inst.kind === 'copy' && inst.from !== undefined) out.push(inst.from);
    if (inst.kind !== 'run') continue;
    for (const spec of inst.mounts ?? []) {
      let mount: RunMount;
      try {
        mount = parseRunMount(spec); // variables left as written: a `$` in from= counts as any stage
      } catch {
        continue; // refused with its message when the step runs
      }
      if ((mount.type === 'bind' || mount.type === 'cache') && mount.from) out.push(mount.from);
    }
  }
  return out;
}

/** Whether some stage does not (transitively) need every stage before it: then two can run at once. */
export function hasIndependentStages(deps: readonly number[][]): boolean {
  const ancestors: Array<Set<number>> = [];
  for (let i = 0; i < deps.length; i++) {
    const all = new Set<number>();
    for (const d of deps[i]!) {
      all.add(d);
      for (const a of ancestors[d]!) all.add(a);
    }
    ancestors.push(all);
    if (all.size < i) return true;
  }
  return false;
}
