import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../../src/image/changes.js';

test('CMD and ENTRYPOINT: JSON and shell form', () => {
  assert.deepEqual(applyChanges(['CMD ["/bin/echo","hi"]']).Cmd, ['/bin/echo', 'hi']);
  assert.deepEqual(applyChanges(['CMD echo hi there']).Cmd, ['/bin/sh', '-c', 'echo hi there']);
  const c = applyChanges(['ENTRYPOINT ["/init"]', 'CMD ["x"]']);
  assert.deepEqual(c.Entrypoint, ['/init']);
  assert.deepEqual(c.Cmd, ['x']);
  assert.deepEqual(applyChanges(['ENTRYPOINT top -b']).Entrypoint, ['/bin/sh', '-c', 'top -b']);
});

test('ENV in both forms, LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD', () => {
  const c = applyChanges([
    'ENV A=1 B="two words"',
    'ENV C three four',
    'ENV A=override',
    'LABEL com.x="y z" k=v',
    'EXPOSE 80 53/udp 8000-8001',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /more',
    'WORKDIR /app',
    'WORKDIR sub',
    'USER nobody:nogroup',
    'STOPSIGNAL SIGINT',
    'ONBUILD RUN echo hi',
  ]);
  assert.deepEqual(c.Env, ['A=override', 'B=two words', 'C=three four']);
  assert.deepEqual(c.Labels, { 'com.x': 'y z', k: 'v' });
  assert.deepEqual(Object.keys(c.ExposedPorts!).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(Object.keys(c.Volumes!).sort(), ['/data', '/logs', '/more']);
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, 'nobody:nogroup');
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.OnBuild, ['RUN echo hi']);
});

test('several instructions in one change string, continuation lines', () => {
  const c = applyChanges(['ENV X=1\nCMD echo \\\n  hello']);
  assert.deepEqual(c.Env, ['X=1']);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo   hello']);
});

test("invalid instructions are rejected with Docker's message", () => {
  assert.throws(() => applyChanges(['RUN echo hi']), { message: 'RUN is not a valid change command' });
  assert.throws(() => applyChanges(['from busybox']), { message: 'from is not a valid change command' });
  assert.throws(() => applyChanges(['COPY a b']), (e: Error & { kind?: string }) => e.kind === 'InvalidParameter');
});

test('HEALTHCHECK', () => {
  assert.deepEqual(applyChanges(['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
  assert.deepEqual(applyChanges(['HEALTHCHECK --interval=5s --retries=3 CMD curl -f x']).Healthcheck, {
    Interval: 5e9,
    Retries: 3,
    Test: ['CMD-SHELL', 'curl -f x'],
  });
  assert.deepEqual(applyChanges(['HEALTHCHECK --timeout=1m30s CMD ["wget", "-q", "x"]']).Healthcheck, { Test: ['CMD', 'wget', '-q', 'x'], Timeout: 90e9, Retries: 0 });
  // The build's own parsing and Docker's words for what it refuses.
  assert.throws(() => applyChanges(['HEALTHCHECK --interval=5 CMD true']), { message: 'time: missing unit in duration "5"' });
  assert.throws(() => applyChanges(['HEALTHCHECK --interval=1us CMD true']), { message: 'Interval "interval" cannot be less than 1ms' });
  assert.throws(() => applyChanges(['HEALTHCHECK --retries=-1 CMD true']), { message: '--retries cannot be negative (-1)' });
  assert.throws(() => applyChanges(['HEALTHCHECK --bogus=1 CMD true']), { message: 'unknown flag: --bogus' });
  assert.throws(() => applyChanges(['HEALTHCHECK CMD']), { message: 'Missing command after HEALTHCHECK CMD' });
});

test('does not modify the base config', () => {
  const base = { Env: ['A=1'] };
  applyChanges(['ENV B=2'], base);
  assert.deepEqual(base, { Env: ['A=1'] });
});
