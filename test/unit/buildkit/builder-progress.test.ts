import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuilderProgress } from '../../../src/buildkit/builder-progress.js';
import { StatusFeed } from '../../../src/buildkit/status-feed.js';
import type { StatusResponse } from '../../../src/buildkit/proto.js';
import type { ProgressMessage } from '../../../src/api/types.js';

async function translate(stream: Array<string | ProgressMessage>, fail?: string) {
  const feed = new StatusFeed();
  const p = new BuilderProgress(feed);
  for (const s of stream) await p.message(typeof s === 'string' ? { stream: s } : s);
  if (fail) await p.fail(fail);
  else await p.finish();
  const seen: StatusResponse[] = [];
  const done = feed.subscribe(async (r) => void seen.push(r), AbortSignal.timeout(1000));
  feed.close();
  await done;
  const byDigest = new Map<string, { name: string; cached: boolean; error: string; done: boolean; logs: string }>();
  for (const r of seen) {
    for (const v of r.vertexes) byDigest.set(v.digest, { name: v.name, cached: !!v.cached, error: v.error ?? '', done: !!v.completed, logs: byDigest.get(v.digest)?.logs ?? '' });
    for (const l of r.logs) byDigest.get(l.vertex)!.logs += l.msg.toString();
  }
  return [...byDigest.values()];
}

test("the classic builder's steps become vertexes: cached, done, with the RUN's output", async () => {
  const v = await translate([
    'Step 1/3 : FROM busybox\n',
    ' ---> 0123456789ab\n',
    'Step 2/3 : RUN echo hi\n',
    ' ---> Running in abcdefabcdef\n',
    'hi\n',
    'part',
    'ial\n',
    ' ---> Removed intermediate container abcdefabcdef\n',
    ' ---> 111111111111\n',
    'Step 3/3 : COPY . /\n',
    ' ---> Using cache\n',
    ' ---> 222222222222\n',
    'Successfully built 222222222222\n',
  ]);
  assert.deepEqual(v, [
    { name: '[1/3] FROM busybox', cached: false, error: '', done: true, logs: '' },
    { name: '[2/3] RUN echo hi', cached: false, error: '', done: true, logs: 'hi\npartial\n' },
    { name: '[3/3] COPY . /', cached: true, error: '', done: true, logs: '' },
  ]);
});

test('stages built side by side keep their own current step; a failure marks the running one', async () => {
  const v = await translate(['[a] Step 1/4 : FROM busybox AS a\n', '[b] Step 3/4 : FROM busybox AS b\n', '[a] from a\n', '[b] from b\n', '[b] Step 4/4 : RUN false\n'], 'exit code: 1');
  assert.deepEqual(
    v.map((x) => [x.name, x.logs, x.error]),
    [
      ['[a 1/4] FROM busybox AS a', 'from a\n', 'cancelled'],
      ['[b 3/4] FROM busybox AS b', 'from b\n', ''],
      ['[b 4/4] RUN false', '', 'exit code: 1'],
    ],
  );
});

test('steps the builder names (its BuildKit dialect) become vertexes of those names; a step named null makes none', async () => {
  const v = await translate([
    { stream: 'Step 1/4 : FROM busybox AS base\n', vertex: '[base 1/2] FROM docker.io/library/busybox:latest' },
    ' ---> 0123456789ab\n',
    { stream: 'Step 2/4 : ENV A=1\n', vertex: null },
    ' ---> Running in abcdefabcdef\n',
    ' ---> 1123456789ab\n',
    { stream: 'Step 3/4 : RUN echo hi\n', vertex: '[base 2/2] RUN echo hi' },
    ' ---> Running in bbcdefabcdef\n',
    'hi\n',
    ' ---> 2123456789ab\n',
    { stream: 'Step 4/4 : COPY . /\n', vertex: '[stage-1 1/1] COPY . /' },
    ' ---> Using cache\n',
    ' ---> 3123456789ab\n',
  ]);
  assert.deepEqual(v, [
    { name: '[base 1/2] FROM docker.io/library/busybox:latest', cached: false, error: '', done: true, logs: '' },
    { name: '[base 2/2] RUN echo hi', cached: false, error: '', done: true, logs: 'hi\n' },
    { name: '[stage-1 1/1] COPY . /', cached: true, error: '', done: true, logs: '' },
  ]);
});
