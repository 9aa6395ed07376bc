import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuildkitGitRef } from '../../../src/build/git-context.js';

test("ADD's git sources are the URLs BuildKit takes for a repository; everything else is not one", () => {
  assert.deepEqual(parseBuildkitGitRef('https://github.com/foo/bar.git#baz/qux:quux/quuz'), { remote: 'https://github.com/foo/bar.git', ref: 'baz/qux', subdir: 'quux/quuz' });
  assert.deepEqual(parseBuildkitGitRef('git://127.0.0.1:9418/app.git'), { remote: 'git://127.0.0.1:9418/app.git', ref: 'HEAD', subdir: '' });
  assert.deepEqual(parseBuildkitGitRef('ssh://git@example.com/x/y#v2'), { remote: 'ssh://git@example.com/x/y', ref: 'v2', subdir: '' });
  assert.deepEqual(parseBuildkitGitRef('git@github.com:foo/bar.git#main:docs'), { remote: 'git@github.com:foo/bar.git', ref: 'main', subdir: 'docs' });
  // Not repositories: an http(s) file, the `github.com/…` form (a path to BuildKit's ADD), other schemes, paths.
  for (const s of ['https://example.com/file.tar.gz', 'http://example.com/repo.git.tar', 'github.com/foo/bar', 'ftp://example.com/r.git', 'file.txt', 'dir/a:b', './x@y:z', '/abs/x@y:z']) {
    assert.equal(parseBuildkitGitRef(s), null, s);
  }
});

test("a git source's query is read as BuildKit's frontend reads it", () => {
  const base = 'https://example.com/r.git';
  assert.deepEqual(parseBuildkitGitRef(`${base}?tag=v1&keep-git-dir=true&submodules=false`), { remote: base, ref: 'refs/tags/v1', subdir: '', keepGitDir: true, submodules: false });
  assert.deepEqual(parseBuildkitGitRef(`${base}?branch=dev&subdir=src&checksum=abc123`), { remote: base, ref: 'refs/heads/dev', subdir: 'src', checksum: 'abc123' });
  assert.deepEqual(parseBuildkitGitRef(`${base}?ref=v1#v1`), { remote: base, ref: 'v1', subdir: '' });
  assert.deepEqual(parseBuildkitGitRef(`${base}?keep-git-dir`), { remote: base, ref: 'HEAD', subdir: '', keepGitDir: true });
  const refused: Array<[string, string]> = [
    [`${base}?nope=1`, 'unexpected query "nope"'],
    [`${base}?ref=a#b`, 'ref conflicts: "b" vs "a"'],
    [`${base}?tag=t&branch=b`, 'branch conflicts with tag'],
    [`${base}?ref=`, 'query "ref" has no value'],
    [`${base}?ref=a&ref=b`, 'query "ref" has multiple values'],
    [`${base}?keep-git-dir=maybe`, 'invalid keep-git-dir value: "maybe"'],
    [`${base}#--upload-pack=touch`, 'invalid refspec: --upload-pack=touch'],
    [`${base}#%E0%A4%A`, `parse "${base}#%E0%A4%A": invalid URL escape in its fragment`],
  ];
  for (const [s, message] of refused) assert.throws(() => parseBuildkitGitRef(s), { message }, s);
});
