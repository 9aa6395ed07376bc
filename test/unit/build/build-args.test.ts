/** Build args as the classic builder resolves them (moby's buildargs.go behaviour). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildArgs, prependEnvOnCmd } from '../../../src/build/build-args.js';

describe('build args', () => {
  test('declared args take --build-arg values, defaults, or meta ARG values', () => {
    const args = new BuildArgs(new Map<string, string | null>([['A', 'given'], ['NOVAL', null], ['HTTP_PROXY', 'http://p'], ['UNUSED', 'x']]));
    args.addArg('V', '1');
    args.addMetaArg('V', '1');
    const stage = args.forStage();
    stage.addArg('A', 'default');
    stage.addArg('B', 'bdefault');
    stage.addArg('V', undefined);
    stage.addArg('NOVAL', undefined);
    assert.deepEqual(Object.fromEntries(stage.allAllowed()), { A: 'given', B: 'bdefault', V: '1', HTTP_PROXY: 'http://p' });
    // The environment wins over an arg of the same name.
    assert.deepEqual(stage.filterAllowed(['B=env']).sort(), ['A=given', 'HTTP_PROXY=http://p', 'V=1']);
    assert.deepEqual(args.unconsumed(), ['UNUSED']);
  });
  test('the RUN cache key: |N and sorted, predefined proxies left out unless declared', () => {
    const args = new BuildArgs(new Map([['HTTP_PROXY', 'p']])).forStage();
    args.addArg('Z', '1');
    args.addArg('A', '2');
    const vars = args.filterAllowed([]);
    assert.deepEqual(prependEnvOnCmd(args, vars, ['/bin/sh', '-c', 'x']), ['|2', 'A=2', 'Z=1', '/bin/sh', '-c', 'x']);
  });
});
