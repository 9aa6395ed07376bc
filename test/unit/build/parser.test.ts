/** The Dockerfile parser and instructions: the reference's examples and Docker's error messages. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../../src/build/parser.js';
import { parseStages } from '../../../src/build/instructions.js';
import { parseGoDuration } from '../../../src/lib/go-duration.js';

describe('Dockerfile parser', () => {
  test('comments, continuations, comment lines inside a continuation', () => {
    const r = parseDockerfile('# a comment\nFROM busybox\nRUN echo hello \\\n# comment\nworld\n  # indented comment\nRUN echo a\\\n\n  b\n');
    assert.deepEqual(r.nodes.map((n) => n.original), ['FROM busybox', 'RUN echo hello world', 'RUN echo a  b']);
    assert.equal(r.nodes[1]!.startLine, 3);
    assert.equal(r.warnings.length, 1);
  });
  test('escape directive: backtick continuations and Windows paths', () => {
    const r = parseDockerfile('# escape=`\n\nFROM busybox\nCOPY testfile.txt c:\\\nRUN dir c:\\\nRUN a `\n  b\n');
    assert.equal(r.escapeToken, '`');
    assert.deepEqual(r.nodes.map((n) => n.original), ['FROM busybox', 'COPY testfile.txt c:\\', 'RUN dir c:\\', 'RUN a   b']);
  });
  test('directives: only at the top, once each, syntax noted and ignored', () => {
    assert.equal(parseDockerfile('# syntax=docker/dockerfile:1\nFROM x\n').syntax, 'docker/dockerfile:1');
    // After an instruction (or a non-directive comment) a directive is a comment.
    assert.equal(parseDockerfile('FROM x\n# escape=`\nRUN a \\\n b\n').escapeToken, '\\');
    assert.equal(parseDockerfile('# about\n# escape=`\nFROM x\n').escapeToken, '\\');
    assert.throws(() => parseDockerfile('# escape=\\\n# escape=`\nFROM x\n'), /only one escape parser directive can be used/);
    assert.throws(() => parseDockerfile('# escape=x\nFROM x\n'), /invalid escape token 'x' does not match ` or \\/);
  });
  test('exec and shell forms', () => {
    const r = parseDockerfile('FROM x\nCMD ["echo", "hi"]\nCMD echo hi\nCMD [ "bad" \nENTRYPOINT ["a"]\n');
    assert.deepEqual([r.nodes[1]!.args, r.nodes[1]!.json], [['echo', 'hi'], true]);
    assert.deepEqual([r.nodes[2]!.args, r.nodes[2]!.json], [['echo hi'], false]);
    // Invalid JSON falls back to the shell form, as Docker does.
    assert.deepEqual([r.nodes[3]!.args, r.nodes[3]!.json], [['[ "bad"'], false]);
    assert.throws(() => parseDockerfile('FROM x\nCMD ["a", 1]\n'), /arrays must be comprised of strings only/);
  });
  test('ENV and LABEL forms', () => {
    const r = parseDockerfile('FROM x\nENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog \\\n    MY_CAT=fluffy\nENV ONE two three\nLABEL "com.example.vendor"="ACME Incorporated" version=1.0\n');
    assert.deepEqual(r.nodes[1]!.args, ['MY_NAME', '"John Doe"', '=', 'MY_DOG', 'Rex\\ The\\ Dog', '=', 'MY_CAT', 'fluffy', '=']);
    assert.deepEqual(r.nodes[2]!.args, ['ONE', 'two three', '']);
    assert.deepEqual(r.nodes[3]!.args, ['"com.example.vendor"', '"ACME Incorporated"', '=', 'version', '1.0', '=']);
    assert.throws(() => parseDockerfile('FROM x\nENV A=1 B\n'), /dockerfile parse error on line 2: Syntax error - can't find = in "B". Must be of the form: name=value/);
    assert.throws(() => parseDockerfile('FROM x\nENV A\n'), /ENV must have two arguments/);
  });
  test('flags and heredocs', () => {
    const r = parseDockerfile('FROM --platform=linux/amd64 busybox AS b\nCOPY --from=b --chown=1:2 a /b\n');
    assert.deepEqual(r.nodes[0]!.flags, ['--platform=linux/amd64']);
    assert.deepEqual(r.nodes[0]!.args, ['busybox', 'AS', 'b']);
    assert.deepEqual(r.nodes[1]!.flags, ['--from=b', '--chown=1:2']);
    assert.throws(() => parseDockerfile('FROM x\nRUN <<EOF\necho hi\nEOF\n'), /heredocs .* require BuildKit/);
  });
  test('an empty file', () => {
    assert.throws(() => parseDockerfile('# only a comment\n\n'), /file with no instructions/);
  });
});

describe('instructions and stages', () => {
  test('meta ARGs, stages, names, --target lookups', () => {
    const df = parseStages('ARG V=1\nFROM busybox:${V} AS Build\nRUN true\nFROM scratch\nCOPY --from=build /a /a\n');
    assert.equal(df.metaArgs.length, 1);
    assert.deepEqual(df.stages.map((s) => [s.baseName, s.name, s.commands.length]), [['busybox:${V}', 'build', 1], ['scratch', '', 1]]);
    const copy = df.stages[1]!.commands[0]!;
    assert.equal(copy.kind, 'copy');
    assert.equal(copy.kind === 'copy' && copy.from, 'build');
  });
  test('Docker\'s messages', () => {
    const err = (text: string) => {
      try {
        parseStages(text);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    assert.equal(err('FROM x\nFOO bar\n'), 'dockerfile parse error on line 2: unknown instruction: FOO');
    assert.equal(err('RUN x\n'), 'dockerfile parse error on line 1: no build stage in current context');
    assert.equal(err('FROM x y\n'), 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    assert.equal(err('FROM x AS 1abc\n'), 'dockerfile parse error on line 1: invalid name for build stage: "1abc", name can\'t start with a number or contain symbols');
    assert.equal(err('FROM x\nCOPY a\n'), 'dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    assert.equal(err('FROM x\nWORKDIR\n'), 'dockerfile parse error on line 2: WORKDIR requires exactly one argument');
    assert.equal(err('FROM x\nSHELL /bin/sh\n'), 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
    assert.equal(err('FROM x\nONBUILD ONBUILD RUN x\n'), 'dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    assert.equal(err('FROM x\nONBUILD FROM y\n'), 'dockerfile parse error on line 2: FROM isn\'t allowed as an ONBUILD trigger');
    assert.equal(err('FROM x\nCOPY --nope=1 a b\n'), 'dockerfile parse error on line 2: unknown flag: --nope');
    assert.equal(err('FROM x\nCOPY --chwon=1 a b\n'), 'dockerfile parse error on line 2: unknown flag: --chwon (did you mean chown?)');
    assert.equal(err('FROM x\nCOPY --from=a --from=b a b\n'), 'dockerfile parse error on line 2: duplicate flag specified: --from');
    assert.equal(err('FROM x\nCOPY --from a b\n'), 'dockerfile parse error on line 2: missing a value on flag: --from');
    assert.equal(err('FROM x\nRUN --security=insecure true\n'), 'dockerfile parse error on line 2: unknown flag: --security');
    assert.equal(err('FROM x\nRUN --mount=type=cache,target=/x --mount=type=tmpfs,target=/t --network=bogus true\n'), 'dockerfile parse error on line 2: unsupported network mode "bogus"');
    assert.equal(err('FROM x\nHEALTHCHECK NONE x\n'), 'dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments');
    assert.equal(err('FROM x\nHEALTHCHECK FOO x\n'), 'dockerfile parse error on line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)');
  });
  test('HEALTHCHECK options', () => {
    const df = parseStages('FROM x\nHEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["a", "b"]\n');
    const [h1, h2, h3] = df.stages[0]!.commands;
    assert.deepEqual(h1!.kind === 'healthcheck' && h1.health, { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], Interval: 300e9, Timeout: 3e9, Retries: 3 });
    assert.deepEqual(h2!.kind === 'healthcheck' && h2.health, { Test: ['NONE'] });
    assert.deepEqual(h3!.kind === 'healthcheck' && h3.health.Test, ['CMD', 'a', 'b']);
    assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
    assert.throws(() => parseGoDuration('5'), { message: 'time: missing unit in duration "5"' });
  });
});
