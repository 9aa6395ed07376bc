/** .dockerignore rules: the examples of the Dockerfile reference and moby's patternmatcher behaviour. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readDockerignore } from '../../../src/build/dockerignore.js';
import { PatternMatcher } from '../../../src/lib/pattern-matcher.js';

const m = (text: string) => new PatternMatcher(readDockerignore(text));

describe('.dockerignore', () => {
  test('reading: comments, whitespace, cleaning, leading slash', () => {
    assert.deepEqual(readDockerignore('# comment\n  */temp*  \n\n/foo/bar/\n!  README.md\n./a/../b\n'), ['*/temp*', 'foo/bar', '!README.md', 'b']);
  });
  test('the reference example: */temp*, */*/temp*, temp?', () => {
    const p = m('# comment\n*/temp*\n*/*/temp*\ntemp?\n');
    assert.ok(p.matches('somedir/temporary.txt'));
    assert.ok(p.matches('somedir/temp'));
    assert.ok(p.matches('somedir/subdir/temporary.txt'));
    assert.ok(p.matches('tempa'));
    assert.ok(p.matches('tempb'));
    assert.ok(!p.matches('temporary.txt'));
    assert.ok(!p.matches('a/b/c/temp.txt'));
    assert.ok(!p.matches('tempab'));
  });
  test('/foo/bar and foo/bar exclude only foo/bar (and what is below it)', () => {
    for (const text of ['/foo/bar', 'foo/bar']) {
      const p = m(text);
      assert.ok(p.matches('foo/bar'));
      assert.ok(p.matches('foo/bar/baz.txt'));
      assert.ok(!p.matches('bar'));
      assert.ok(!p.matches('x/foo/bar'));
    }
  });
  test('** matches any number of directories, including none', () => {
    const p = m('**/*.go');
    assert.ok(p.matches('main.go'));
    assert.ok(p.matches('a/b/c.go'));
    assert.ok(!p.matches('a/b/c.txt'));
    assert.ok(m('a/**/z').matches('a/z'));
    assert.ok(m('a/**/z').matches('a/b/c/z'));
    assert.ok(m('bar/**').matches('bar/x/y'));
  });
  test('exceptions: the last matching line wins', () => {
    const a = m('*.md\n!README*.md\nREADME-secret.md\n');
    assert.ok(a.matches('CHANGES.md'));
    assert.ok(!a.matches('README.md'));
    assert.ok(a.matches('README-secret.md'));
    const b = m('*.md\nREADME-secret.md\n!README*.md\n');
    assert.ok(!b.matches('README-secret.md'));
    assert.ok(!b.matches('README.md'));
    const all = m('*\n!src\n');
    assert.ok(all.matches('x'));
    assert.ok(!all.matches('src'));
    assert.ok(!all.matches('src/a.ts'));
  });
  test('? and * never match a slash; escapes', () => {
    assert.ok(m('a*').matches('ab/c.txt')); // through its parent "ab"
    assert.ok(!m('a?c').matches('a/c'));
    assert.ok(m('a\\*b').matches('a*b'));
    assert.ok(!m('a\\*b').matches('axb'));
    assert.ok(m('[a-c].txt').matches('b.txt'));
    assert.ok(!m('[a-c].txt').matches('d.txt'));
  });
  test('canSkipDir: only when no exception can reach below', () => {
    assert.ok(m('node_modules').canSkipDir('node_modules'));
    assert.ok(!m('node_modules\n!node_modules/keep').canSkipDir('node_modules'));
    assert.ok(m('a\n!b/keep').canSkipDir('a'));
  });
});
