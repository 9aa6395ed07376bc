import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execCreateRequest } from '../../../src/cli/exec.js';

test('execCreateRequest: streams by -i/-d, env files then -e (bare -e taken from the environment)', () => {
  const files: Record<string, string> = { 'a.env': '# c\nF=1\nLOCAL\n' };
  const req = execCreateRequest({ interactive: true, tty: true, env: ['E=2', 'LOCAL'], envFile: ['a.env'], user: 'u', workdir: '/w' }, ['sh'], { LOCAL: 'here' }, (p) => files[p]!);
  assert.equal(req.AttachStdin, true);
  assert.equal(req.AttachStdout, true);
  assert.equal(req.Tty, true);
  assert.deepEqual(req.Env, ['F=1', 'LOCAL=here', 'E=2', 'LOCAL=here']);
  assert.equal(req.User, 'u');
  assert.equal(req.WorkingDir, '/w');
  const det = execCreateRequest({ detach: true, interactive: true }, ['true'], {});
  assert.deepEqual([det.AttachStdin, det.AttachStdout, det.AttachStderr, det.Detach], [false, false, false, true]);
  assert.throws(() => execCreateRequest({ envFile: ['missing.env'] }, ['true'], {}, () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); }), /open missing.env: no such file or directory/);
});
