/**
 * The step names BuildKit's Dockerfile frontend shows (dockerfile2llb's prefixCommand), which
 * wharf's BuildKit API gives the classic builder's steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStages } from '../../../src/build/instructions.js';
import { stageStepNames, withVariables, type StageStepNames } from '../../../src/build/buildkit-names.js';

function stepNames(dockerfile: string): StageStepNames[] {
  const { stages } = parseStages(dockerfile, 'buildkit');
  return stages.map((st, i) => stageStepNames(st, i, stages.length, st.baseName, stages.slice(0, i).some((s) => s.name === st.baseName.toLowerCase())));
}

const listed = (n: StageStepNames) => ({ from: n.from, commands: Array.from({ length: n.count }, (_, i) => n.command(i)) });
const names = (dockerfile: string) => stepNames(dockerfile).map(listed);

test('one stage: no stage name, only FROM an image, RUN, COPY, ADD and WORKDIR are steps', () => {
  assert.deepEqual(names('FROM busybox\nENV A=1\nARG B\nrun echo $A\nLABEL x=y\nCOPY a /a\nWORKDIR /w\nCMD ["sh"]\n'), [
    {
      from: '[1/4] FROM docker.io/library/busybox:latest',
      commands: [null, null, '[2/4] RUN echo $A', null, '[3/4] COPY a /a', '[4/4] WORKDIR /w', null],
    },
  ]);
});

test('stages: their names or stage-<index>; one built on another shows no FROM; scratch neither', () => {
  assert.deepEqual(names('FROM alpine:3.19 AS Build\nRUN make\nFROM build\nRUN test\nFROM scratch\nCOPY --from=build /out /\n'), [
    { from: '[build 1/2] FROM docker.io/library/alpine:3.19', commands: ['[build 2/2] RUN make'] },
    { from: null, commands: ['[stage-1 1/1] RUN test'] },
    { from: null, commands: ['[stage-2 1/1] COPY --from=build /out /'] },
  ]);
});

test('the step number is padded to the width of the count, as Go\'s %*d', () => {
  const runs = Array.from({ length: 10 }, (_, i) => `RUN echo ${i}`).join('\n');
  const [stage] = names(`FROM registry.example:5000/team/img@sha256:${'a'.repeat(64)}\n${runs}\n`);
  assert.equal(stage!.from, `[ 1/11] FROM registry.example:5000/team/img@sha256:${'a'.repeat(64)}`);
  assert.equal(stage!.commands[8], '[10/11] RUN echo 8');
});

test('a command that turns out to make no step: none shown, the later ones numbered one lower, padding kept', () => {
  const runs = Array.from({ length: 9 }, (_, i) => `RUN echo ${i}`).join('\n');
  const [stage] = stepNames(`FROM alpine\nWORKDIR /\n${runs}\n`);
  stage!.skip(0);
  const after = listed(stage!);
  assert.equal(after.from, '[ 1/11] FROM docker.io/library/alpine:latest');
  assert.equal(after.commands[0], null);
  assert.equal(after.commands[1], '[ 2/11] RUN echo 0');
  assert.equal(after.commands[9], '[10/11] RUN echo 8');
  const second = stepNames('FROM a AS s1\nRUN x\nFROM b\nRUN y\nRUN z\n')[1]!;
  second.skip(0);
  assert.equal(second.command(1), '[stage-1 2/3] RUN z');
});

test("variables in a step's name: expanded as BuildKit shows them, quotes kept, unset ones as written", () => {
  const env = new Map([
    ['APP', '/app'],
    ['X', 'given'],
    ['EMPTY', ''],
  ]);
  const cases: Array<[string, string]> = [
    ['WORKDIR $APP', 'WORKDIR /app'],
    ['RUN echo "arg=$X" && echo "arg=${X}" > /arg', 'RUN echo "arg=given" && echo "arg=given" > /arg'],
    ["RUN echo '$X stays' $X", "RUN echo '$X stays' given"],
    ['RUN echo $UNSET ${UNSET} ${UNSET:-dflt} ${X:+set} ${EMPTY:-e} ${EMPTY-e}', 'RUN echo $UNSET ${UNSET} dflt set e '],
    ['RUN echo \\$X a\\ b "q\\"x\\n"', 'RUN echo $X a b "q"x\\n"'],
    ['RUN echo $$ $1 cost$', 'RUN echo $$ $1 cost$'],
  ];
  for (const [text, shown] of cases) assert.equal(withVariables(text, env), shown, text);
  assert.equal(withVariables('COPY `$X` $X', env, '`'), 'COPY $X given');
});
