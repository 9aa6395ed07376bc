import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMediaType } from '../../../src/lib/go-media-type.js';

test('media type and parameters: tokens, quoted strings, lowercased names, a trailing semicolon', () => {
  assert.deepEqual(parseMediaType('Attachment; FileName=report.csv'), { type: 'attachment', params: { filename: 'report.csv' } });
  assert.deepEqual(parseMediaType('form-data; name="f"; filename="a b;c.txt";'), { type: 'form-data', params: { name: 'f', filename: 'a b;c.txt' } });
  assert.deepEqual(parseMediaType('text/plain ; charset = utf-8'), { type: 'text/plain', params: { charset: 'utf-8' } });
  assert.deepEqual(parseMediaType('inline; filename=""'), { type: 'inline', params: { filename: '' } });
});

test('quoted strings: a backslash escapes only special characters (Go keeps MSIE paths)', () => {
  assert.equal(parseMediaType('attachment; filename="a\\"b"')?.params?.filename, 'a"b');
  assert.equal(parseMediaType('attachment; filename="C:\\dev\\x.txt"')?.params?.filename, 'C:\\dev\\x.txt');
});

test('RFC 2231: extended values and continuations', () => {
  assert.equal(parseMediaType("attachment; filename*=UTF-8''na%C3%AFve.txt")?.params?.filename, 'na\u00efve.txt');
  assert.equal(parseMediaType("attachment; filename*=us-ascii'en'a%20b")?.params?.filename, 'a b');
  assert.equal(parseMediaType("attachment; filename*=iso-8859-1''x")?.params?.filename, undefined);
  assert.equal(parseMediaType('attachment; filename*0="long"; filename*1="-name.txt"')?.params?.filename, 'long-name.txt');
  assert.equal(parseMediaType("attachment; filename*0*=utf-8''%C3%A9; filename*1*=%C3%A9; filename*2=.txt")?.params?.filename, '\u00e9\u00e9.txt');
  // The extended form wins over the continuations of the same name.
  assert.equal(parseMediaType("attachment; filename*=utf-8''one; filename*0=two")?.params?.filename, 'one');
});

test('malformed: no parameters at all, as Go answers ErrInvalidMediaParameter', () => {
  assert.deepEqual(parseMediaType('attachment; filename="unterminated'), { type: 'attachment', params: null });
  assert.deepEqual(parseMediaType('attachment; filename'), { type: 'attachment', params: null });
  assert.deepEqual(parseMediaType('attachment; =x'), { type: 'attachment', params: null });
  assert.deepEqual(parseMediaType('attachment; a=1; a=2'), { type: 'attachment', params: null });
  assert.deepEqual(parseMediaType('attachment; a=1; a=1'), { type: 'attachment', params: { a: '1' } });
  assert.deepEqual(parseMediaType('attachment; filename="a\nb"'), { type: 'attachment', params: null });
});

test('an invalid media type is no media type', () => {
  assert.equal(parseMediaType(''), null);
  assert.equal(parseMediaType('text/'), null);
  assert.equal(parseMediaType('a b; filename=x'), null);
  assert.equal(parseMediaType('/plain'), null);
});
