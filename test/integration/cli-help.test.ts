/**
 * The lazy command table (src/cli/commands.ts) against the real CLI: every command and alias in
 * it resolves and prints its own help, `wharf --help` and each group's help list exactly the
 * table's commands in its order, and argv picks the rows main.ts loads. No daemon is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, commandIndex, rowsFor, splitPath } from '../../src/cli/commands.js';
import { CLI_MAIN, runCommand } from './harness.js';

const wharf = (args: string[]) => runCommand(process.execPath, [CLI_MAIN, ...args], { env: { DOCKER_HOST: 'unix:///nonexistent/wharf.sock' } });
const VALUE_FLAGS = new Set(['-H', '--host', '--config', '-c', '--context', '-l', '--log-level']);

/** The names listed under "Commands:" in a help text (first alias included, as commander prints it). */
function listed(help: string): string[] {
  const at = help.indexOf('\nCommands:\n');
  if (at < 0) return [];
  return help
    .slice(at + '\nCommands:\n'.length)
    .split('\n')
    .filter((l) => /^ {2}\S/.test(l))
    .map((l) => l.trim().split(' ')[0]!)
    .filter((n) => n !== 'help');
}

const shown = (path: string) => {
  const { name, aliases } = splitPath(path);
  return aliases.length ? `${name}|${aliases[0]}` : name;
};

test('every command and alias of the table resolves and prints its help', async () => {
  const invocations: Array<{ words: string[]; row: string }> = [];
  for (const [path] of COMMANDS) {
    const { group, name, aliases } = splitPath(path);
    for (const n of [name, ...aliases]) invocations.push({ words: group ? [group, n] : [n], row: path });
  }
  // A few at a time: each is a CLI start.
  const failures: string[] = [];
  for (let i = 0; i < invocations.length; i += 4) {
    await Promise.all(
      invocations.slice(i, i + 4).map(async ({ words, row }) => {
        const r = await wharf([...words, '--help']);
        const { group } = splitPath(row);
        const usage = `Usage: wharf ${group ? `${group} ` : ''}${shown(row)} `;
        if (r.code !== 0 || !r.stdout.startsWith(usage) || r.stderr) {
          failures.push(`wharf ${words.join(' ')} --help: exit ${r.code}, stdout ${JSON.stringify(r.stdout.slice(0, 80))}, stderr ${JSON.stringify(r.stderr)}`);
        }
      }),
    );
  }
  assert.deepEqual(failures, []);
});

test('wharf --help and each group list exactly the commands of the table, in its order', async () => {
  const top = await wharf(['--help']);
  assert.equal(top.code, 0);
  assert.deepEqual(listed(top.stdout), COMMANDS.filter(([p]) => !splitPath(p).group).map(([p]) => shown(p)));
  assert.deepEqual(listed((await wharf([])).stdout), listed(top.stdout));
  for (const [path, what] of COMMANDS) {
    if (typeof what === 'function') continue;
    const r = await wharf([path, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: wharf ${path} COMMAND\n\n${what.description}\n`));
    assert.deepEqual(listed(r.stdout), COMMANDS.filter(([p]) => splitPath(p).group === path).map(([p]) => shown(p)), path);
  }
});

test('argv selects the rows to load: the command, a group with its sub-command, or all for help', () => {
  const paths = (argv: string[]) => rowsFor(argv, VALUE_FLAGS).map(([p]) => p);
  assert.deepEqual(paths(['ps', '-a']), ['ps']);
  assert.deepEqual(paths(['-H', 'unix:///x', 'version']), ['version']);
  assert.deepEqual(paths(['-DH', 'unix:///x', 'ps']), ['ps']);
  assert.deepEqual(paths(['-Hunix:///x', '--host=unix:///y', '-D', 'ps']), ['ps']);
  assert.deepEqual(paths(['container', 'list']), ['container', 'container ls|list|ps']);
  assert.deepEqual(paths(['image', 'remove', 'x']), ['image', 'image rm|remove']);
  const container = paths(['container']);
  assert.equal(container[0], 'container');
  assert.ok(container.length > 20 && container.slice(1).every((p) => p.startsWith('container ')));
  assert.deepEqual(paths(['container', 'nope']), container);
  for (const argv of [[], ['--help', 'ps'], ['-h'], ['-Dv'], ['nope'], ['-H', 'ps']]) assert.equal(rowsFor(argv, VALUE_FLAGS), COMMANDS, argv.join(' '));
  assert.equal(commandIndex(['-l', 'debug', '--config', 'x', 'run'], VALUE_FLAGS), 4);
});

test('a command runs from its row alone: flag and argument errors keep Docker’s wording and exit codes', async () => {
  const unknown = await wharf(['ps', '--bogus']);
  assert.equal(unknown.code, 125);
  assert.equal(unknown.stderr, "unknown flag: --bogus\n\nUsage:  wharf ps [OPTIONS]\n\nRun 'wharf ps --help' for more information\n");
  const missing = await wharf(['container', 'rename', 'a']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^wharf: 'wharf container rename' requires at least 2 arguments\n/);
  const nope = await wharf(['nope']);
  assert.equal(nope.code, 1);
  assert.equal(nope.stderr, "wharf: unknown command: wharf nope\n\nRun 'wharf --help' for more information\n");
  // A value an action refuses (not commander) gets the usage of the command argv names, as cobra does.
  const timeout = await wharf(['-H', 'unix:///nonexistent', 'container', 'stop', '-t', 'x', 'c']);
  assert.equal(timeout.code, 125);
  assert.equal(
    timeout.stderr,
    'invalid argument "x" for "-t, --timeout" flag: strconv.ParseInt: parsing "x": invalid syntax\n\n' +
      "Usage:  wharf container stop [OPTIONS] CONTAINER [CONTAINER...]\n\nRun 'wharf container stop --help' for more information\n",
  );
  const priority = await wharf(['-H', 'unix:///nonexistent', 'network', 'connect', '--gw-priority', 'x', 'n', 'c']);
  assert.equal(priority.code, 125);
  assert.match(priority.stderr, /\n\nUsage: {2}wharf network connect \[OPTIONS\] NETWORK CONTAINER\n\nRun 'wharf network connect --help' for more information\n$/);
  const version = await wharf(['-v']);
  assert.equal(version.stdout, 'wharf version 0.1.0\n');
});

test('the bundled CLI has no dynamic import() left (its vm.Script host cannot load one)', async () => {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { REPO_ROOT } = await import('./harness.js');
  const bundle = await readFile(join(REPO_ROOT, 'dist/cli/wharf.cjs'), 'utf8');
  assert.deepEqual(bundle.match(/[^\w$.]import\(\s*["'`][^"'`]+["'`]\s*\)/g) ?? [], []);
});
