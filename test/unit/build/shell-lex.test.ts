/** Variable substitution, against the Dockerfile reference's examples and BuildKit's lexer rules. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envMap, processWord, processWords } from '../../../src/build/shell-lex.js';

const env = envMap(['FOO=/bar', 'EMPTY=', 'abc=hello', 'X=a b']);

describe('processWord', () => {
  test('$VAR and ${VAR}', () => {
    assert.equal(processWord('$FOO', env), '/bar');
    assert.equal(processWord('${FOO}/x', env), '/bar/x');
    assert.equal(processWord('$FOO_x', env), '');
    assert.equal(processWord('${FOO}_x', env), '/bar_x');
    assert.equal(processWord('$UNSET-x', env), '-x');
  });
  test('modifiers :- and :+ (and the unset-only forms)', () => {
    assert.equal(processWord('${UNSET:-word}', env), 'word');
    assert.equal(processWord('${EMPTY:-word}', env), 'word');
    assert.equal(processWord('${EMPTY-word}', env), '');
    assert.equal(processWord('${FOO:-word}', env), '/bar');
    assert.equal(processWord('${FOO:+word}', env), 'word');
    assert.equal(processWord('${UNSET:+word}', env), '');
    assert.equal(processWord('${EMPTY+word}', env), 'word');
    assert.equal(processWord('${UNSET:-$FOO}', env), '/bar');
    assert.throws(() => processWord('${UNSET:?is required}', env), /UNSET: is required/);
  });
  test('escapes and quotes (the reference: \\$foo is literal)', () => {
    assert.equal(processWord('\\$FOO', env), '$FOO');
    assert.equal(processWord('\\${FOO}', env), '${FOO}');
    assert.equal(processWord("'$FOO'", env), '$FOO');
    assert.equal(processWord('"$FOO and \\"q\\""', env), '/bar and "q"');
    assert.equal(processWord('"a\\b"', env), 'a\\b');
    assert.equal(processWord('hello\\ world', env), 'hello world');
    assert.equal(processWord('`$FOO', env, '`'), '$FOO');
    assert.equal(processWord('c:\\dir', env, '`'), 'c:\\dir');
  });
  test('nesting as deep as a Dockerfile can hold takes no call stack', () => {
    // 10,000 levels overflowed the call stack when each level was a call.
    const depth = 200_000;
    const nested = `${'${UNSET:-"'.repeat(depth)}x${'"}'.repeat(depth)}`;
    assert.equal(processWord(nested, env), 'x');
    assert.equal(processWord(`${'${FOO:+${UNSET-'.repeat(depth)}y${'}}'.repeat(depth)}`, env), 'y');
    assert.throws(() => processWord(`${'${UNSET:-'.repeat(depth)}x`, env), /missing '}'/);
  });
  test('the expansion cap holds as a quoted string or a modifier word grows', () => {
    // 4,000 times 512 Ki characters: the piece reached V8's string limit before the cap was checked.
    const big = envMap([`V=${'v'.repeat(1 << 19)}`]);
    assert.throws(() => processWord(`"${'$V'.repeat(4000)}"`, big), /is longer than 1048576 characters/);
    assert.throws(() => processWord(`\${UNSET:-${'$V'.repeat(4000)}}`, big), /is longer than 1048576 characters/);
  });
  test('a lone $ and errors', () => {
    assert.equal(processWord('a$', env), 'a$');
    assert.equal(processWord('$ x', env), '$ x');
    assert.throws(() => processWord('${FOO', env), /missing '}'/);
    assert.throws(() => processWord('${FOO%x}', env), /unsupported modifier/);
    assert.throws(() => processWord('"open', env), /double-quote/);
  });
  test('whitespace is kept by processWord, split by processWords', () => {
    assert.equal(processWord('  $X  ', env), '  a b  ');
    assert.deepEqual(processWords('80 "8080 8081" $FOO', env), ['80', '8080 8081', '/bar']);
    // An unquoted expansion splits on its value's whitespace; a quoted one does not; an empty one adds no word.
    const ports = envMap(['PORTS=  99   100 ', 'NONE=']);
    assert.deepEqual(processWords('${PORTS}', ports), ['99', '100']);
    assert.deepEqual(processWords('a${PORTS}b', ports), ['a', '99', '100', 'b']);
    assert.deepEqual(processWords('"${PORTS}"', ports), ['  99   100 ']);
    assert.deepEqual(processWords('$NONE 80 $NONE', ports), ['80']);
  });
});
