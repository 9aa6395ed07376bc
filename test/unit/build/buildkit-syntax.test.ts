/** BuildKit's Dockerfile syntax, which builds through BuildKit's API take: here-documents, RUN --mount/--network, COPY --link, --exclude and --parents, ADD --unpack. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStages, type Instruction } from '../../../src/build/instructions.js';
import { DockerfileParseError } from '../../../src/build/parser.js';
import { parseRunMount } from '../../../src/build/run-mounts.js';
import { expandHeredoc } from '../../../src/build/shell-lex.js';

const commands = (text: string): Instruction[] => parseStages(text, 'buildkit').stages[0]!.commands;

test('a RUN here-document is the shell script; with #! it is run as a file; with more on the line the shell gets it all', () => {
  const [plain, tabs, script, both] = commands(
    ['FROM busybox', 'RUN <<EOF', 'echo "a $X"', '  echo b', 'EOF', 'RUN <<-EOT', '\techo tabbed', '\tEOT', 'RUN <<EOF', '#!/usr/bin/env python3', 'print(1)', 'EOF', 'RUN cat <<A > /a && cat <<"B" > /b', 'one', 'A', 'two $X', 'B', 'RUN echo after'].join('\n'),
  );
  assert.deepEqual(plain, { kind: 'run', text: 'RUN <<EOF', cmd: { args: ['echo "a $X"\n  echo b\n'], json: false } });
  assert.deepEqual(tabs, { kind: 'run', text: 'RUN <<-EOT', cmd: { args: ['echo tabbed\n'], json: false } });
  assert.deepEqual(script, { kind: 'run', text: 'RUN <<EOF', cmd: { args: ['/dev/pipes/EOF'], json: true }, script: { name: 'EOF', content: '#!/usr/bin/env python3\nprint(1)\n' } });
  assert.deepEqual(both, { kind: 'run', text: 'RUN cat <<A > /a && cat <<"B" > /b', cmd: { args: ['cat <<A > /a && cat <<"B" > /b\none\nA\ntwo $X\nB'], json: false } });
  assert.equal(parseStages(['FROM busybox', 'RUN <<EOF', 'x', 'EOF', 'RUN echo after'].join('\n'), 'buildkit').stages[0]!.commands.length, 2);
});

test('COPY here-documents are inline files; quoting the name turns expansion off', () => {
  const [copy] = commands(['FROM busybox', 'COPY --link <<one <<"two" /dst/', 'a=$A', 'one', 'b=$B', 'two'].join('\n'));
  assert.deepEqual(copy, {
    kind: 'copy',
    text: 'COPY --link <<one <<"two" /dst/',
    sources: [],
    dest: '/dst/',
    heredocs: [
      { name: 'one', content: 'a=$A\n', expand: true },
      { name: 'two', content: 'b=$B\n', expand: false },
    ],
  });
});

test('RUN --mount and --network are kept for the build; the classic syntax parses them for its builder to refuse', () => {
  const [run] = commands('FROM busybox\nRUN --mount=type=cache,target=/c --mount=type=secret,id=t --network=none make\n');
  assert.deepEqual(run, { kind: 'run', text: 'RUN --mount=type=cache,target=/c --mount=type=secret,id=t --network=none make', cmd: { args: ['make'], json: false }, mounts: ['type=cache,target=/c', 'type=secret,id=t'], network: 'none' });
  assert.throws(() => commands('FROM busybox\nRUN --network=bridge make\n'), /unsupported network mode "bridge"/);
  assert.throws(() => commands('FROM busybox\nRUN --security=insecure make\n'), /security mode "insecure" is not allowed/);
  assert.deepEqual(commands('FROM busybox\nADD --checksum=sha256:abc https://x/y /y\n')[0], { kind: 'add', text: 'ADD --checksum=sha256:abc https://x/y /y', sources: ['https://x/y'], dest: '/y', checksum: 'sha256:abc' });
  // Docker 28's classic builder parses ADD --checksum and --keep-git-dir, and ignores them.
  assert.deepEqual(parseStages('FROM busybox\nADD --checksum=sha256:abc --keep-git-dir https://x/y /y\n').stages[0]!.commands[0], { kind: 'add', text: 'ADD --checksum=sha256:abc --keep-git-dir https://x/y /y', sources: ['https://x/y'], dest: '/y' });
  assert.deepEqual(parseStages('FROM busybox\nRUN --mount=type=cache,target=/c --network=none make\n').stages[0]!.commands[0], { kind: 'run', text: 'RUN --mount=type=cache,target=/c --network=none make', cmd: { args: ['make'], json: false }, mounts: ['type=cache,target=/c'], network: 'none' });
  assert.throws(() => parseStages('FROM busybox\nRUN --network=bridge make\n'), /unsupported network mode "bridge"/);
  assert.throws(() => parseStages('FROM busybox\nRUN --security=sandbox make\n'), { message: 'dockerfile parse error on line 2: unknown flag: --security' });
  assert.throws(() => parseStages('FROM busybox\nRUN <<EOF\nx\nEOF\n'), /heredocs \(<<EOF\) in RUN require BuildKit/);
  assert.throws(() => commands('FROM busybox\nRUN <<EOF\nnever ends\n'), /unterminated heredoc EOF/);
});

test('COPY --exclude (repeated), --parents (a boolean) and ADD --unpack are kept for the build; the classic syntax knows none of them', () => {
  const [copy, add, plain] = commands('FROM busybox\nCOPY --exclude=*.md --parents --exclude=!k.md ./a/./b* /d/\nADD --unpack=FALSE --exclude=x a.tar /t/\nCOPY --parents=false a /b\n');
  assert.deepEqual(copy, { kind: 'copy', text: 'COPY --exclude=*.md --parents --exclude=!k.md ./a/./b* /d/', sources: ['./a/./b*'], dest: '/d/', excludes: ['*.md', '!k.md'], parents: true });
  assert.deepEqual(add, { kind: 'add', text: 'ADD --unpack=FALSE --exclude=x a.tar /t/', sources: ['a.tar'], dest: '/t/', excludes: ['x'], unpack: false });
  assert.deepEqual(plain, { kind: 'copy', text: 'COPY --parents=false a /b', sources: ['a'], dest: '/b' });
  assert.throws(() => commands('FROM busybox\nADD --parents a /b\n'), { message: 'dockerfile parse error on line 2: unknown flag: --parents' });
  assert.throws(() => commands('FROM busybox\nCOPY --parents=maybe a /b\n'), { message: 'dockerfile parse error on line 2: expecting boolean value for flag --parents, not: maybe' });
  assert.throws(() => commands('FROM busybox\nCOPY --exclude a /b\n'), { message: 'dockerfile parse error on line 2: missing a value on flag: --exclude' });
  assert.throws(() => commands('FROM busybox\nCOPY --parent a /b\n'), { message: 'dockerfile parse error on line 2: unknown flag: --parent (did you mean parents?)' });
  assert.throws(() => parseStages('FROM busybox\nCOPY --exclude=x a /b/\n'), { message: 'dockerfile parse error on line 2: unknown flag: --exclude' });
  assert.throws(() => parseStages('FROM busybox\nCOPY --parents a /b/\n'), { message: 'dockerfile parse error on line 2: unknown flag: --parents' });
  assert.throws(() => parseStages('FROM busybox\nADD --unpack a /b/\n'), { message: 'dockerfile parse error on line 2: unknown flag: --unpack' });
  // --link and --chmod parse (the builder refuses a --chmod when it copies).
  assert.deepEqual(parseStages('FROM busybox\nCOPY --link --chmod=600 a /b/\n').stages[0]!.commands[0], { kind: 'copy', text: 'COPY --link --chmod=600 a /b/', sources: ['a'], dest: '/b/', chmod: '600' });
});

test("RUN --mount's fields, defaults and errors", () => {
  assert.deepEqual(parseRunMount('target=/src,source=app,ro=false'), { type: 'bind', target: '/src', source: 'app', from: '', readonly: false });
  assert.deepEqual(parseRunMount('type=bind,dst=/src'), { type: 'bind', target: '/src', source: '/', from: '', readonly: true });
  assert.deepEqual(parseRunMount('type=cache,target=/root/.cache/,sharing=locked,mode=0700,uid=1000'), {
    type: 'cache', target: '/root/.cache', id: '/root/.cache', readonly: false, mode: 0o700, uid: 1000, gid: 0, permSet: true, source: '', from: '',
  });
  assert.deepEqual(parseRunMount('type=secret,id=npmrc'), { type: 'secret', target: '/run/secrets/npmrc', id: 'npmrc', required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,target=/root/.npmrc,required'), { type: 'secret', target: '/root/.npmrc', id: '.npmrc', required: true, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 << 20 });
  assert.deepEqual(parseRunMount('type=secret,id=token,env=TOKEN'), { type: 'secret', env: 'TOKEN', target: '', id: 'token', required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,src=token,target=/t,env=T'), { type: 'secret', env: 'T', target: '/t', id: 'token', required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=ssh'), { type: 'ssh', target: '', id: 'default', required: false, mode: 0o600, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=ssh,id=gh,target=/agent/,required,mode=0640,uid=10,gid=20'), { type: 'ssh', target: '/agent', id: 'gh', required: true, mode: 0o640, uid: 10, gid: 20 });
  assert.deepEqual(parseRunMount('type=cache,id=$ID,target=/c', (w) => w.replace('$ID', 'go-mod')), {
    type: 'cache', target: '/c', id: 'go-mod', readonly: false, mode: 0o755, uid: 0, gid: 0, permSet: false, source: '', from: '',
  });
  const bad = (spec: string, re: RegExp) => assert.throws(() => parseRunMount(spec), (e: unknown) => e instanceof DockerfileParseError && re.test(e.message));
  bad('type=volume,target=/v', /unsupported mount type "volume"/);
  bad('type=ssh,source=x', /unexpected key 'source'/);
  bad('type=cache', /mount destination not specified/);
  bad('type=cache,target=/c,sharing=sometimes', /unsupported sharing value/);
  bad('type=bind,target=/c,colour=red', /unexpected key 'colour'/);
  bad('type=secret', /one of source, target required/);
  bad('type=secret,id=t,env=1BAD', /invalid secret environment variable name "1BAD"/);
  bad('type=cache,target=/c,mode=999', /invalid value for mode/);
});

test('a here-document body expands variables and keeps its quotes', () => {
  const env = new Map([['A', 'x'], ['EMPTY', '']]);
  assert.equal(expandHeredoc('a=$A b=${A} "q" \'s\' \\$A ${MISSING:-def} ${EMPTY:-e} ${EMPTY-set} ${A:+alt} ${MISSING:+alt}|$MISSING|\n', env), 'a=x b=x "q" \'s\' $A def e  alt ||\n');
});
