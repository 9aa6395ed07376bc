/** Which stages need which, and whether any can be built side by side. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStages } from '../../../src/build/instructions.js';
import { hasIndependentStages, stageDependencies } from '../../../src/build/stage-graph.js';

const graph = (text: string) => {
  const df = parseStages(text);
  return stageDependencies(df.stages, df.stages.map((s) => s.baseName));
};

describe('stage graph', () => {
  test('FROM a stage, COPY --from by name, by index, with a variable', () => {
    assert.deepEqual(graph('FROM busybox AS a\nFROM a AS b\nFROM busybox\nCOPY --from=A /x /x\nCOPY --from=1 /y /y\n'), [[], [0], [0, 1]]);
    assert.deepEqual(graph('FROM busybox AS a\nFROM busybox AS b\nFROM busybox\nCOPY --from=$X /x /x\n'), [[], [], [0, 1]]);
    // An image of the same name as a later stage is not a dependency.
    assert.deepEqual(graph('FROM later AS a\nFROM busybox AS later\n'), [[], []]);
  });
  test("RUN --mount's from= names a stage as COPY --from does", () => {
    const df = parseStages('FROM busybox AS deps\nFROM busybox AS tools\nFROM busybox\nRUN --mount=type=cache,target=/c,from=deps --mount=type=bind,from="tools",target=/t true\nRUN --mount=type=bind,target=/x,from=$S true\n', 'buildkit');
    assert.deepEqual(stageDependencies(df.stages, df.stages.map((s) => s.baseName)), [[], [], [0, 1]]);
    const one = parseStages('FROM busybox AS a\nFROM busybox AS b\nFROM busybox\nRUN --mount=from=b,target=/b true\n', 'buildkit');
    assert.deepEqual(stageDependencies(one.stages, one.stages.map((s) => s.baseName)), [[], [], [1]]);
  });
  test('independent stages', () => {
    assert.equal(hasIndependentStages([[]]), false);
    assert.equal(hasIndependentStages([[], [0], [1]]), false);
    assert.equal(hasIndependentStages([[], [], [0, 1]]), true);
    assert.equal(hasIndependentStages([[], [0], [0]]), true);
  });
});
