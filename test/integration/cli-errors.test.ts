/**
 * Go-template and flag errors of the wharf CLI against the Docker CLI's (issue 11): each case runs
 * both CLIs on the same daemon and expects the same exit code, stdout and stderr (the program name
 * aside). Docker's wording differs per command (inspect "template parsing error" and 64 for a
 * template that does not parse, ps "failed to parse/execute template", version/info the bare Go
 * error), and the positions in Go's messages are those of text/template.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  const r = await d.docker(['create', '--name', 'c1', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await d?.cleanup();
});

async function same(args: string[]): Promise<void> {
  const [dk, wh] = await Promise.all([d.docker(args), d.wharf(args)]);
  const norm = (s: string) => s.replace(/\bwharf\b/g, 'docker');
  assert.deepEqual(
    { code: wh.code, stdout: wh.stdout, stderr: norm(wh.stderr) },
    { code: dk.code, stdout: dk.stdout, stderr: dk.stderr },
    `wharf ${args.join(' ')}`,
  );
}

describe('Go template errors as the Docker CLI prints them', () => {
  const cases: string[][] = [
    ['inspect', '--format', '{{.Nope}}', 'c1'],
    ['inspect', '--format', '{{.Name', 'c1'],
    ['container', 'inspect', '-f', '{{.State.Nope}}', 'c1'],
    ['inspect', '-f', '{{index .Args 5}}', 'c1'],
    ['inspect', '-f', '{{.Id}}', 'nosuch'],
    ['network', 'inspect', '-f', '{{.Nope}}', 'bridge'],
    ['ps', '-a', '--format', '{{'],
    ['ps', '-a', '--format', '{{.Nope}}'],
    ['ps', '-a', '--format', 'table {{.Nope}}'],
    ['ps', '-a', '--format', '{{json .Nope}}'],
    ['images', '--format', '{{.Nope}}'],
    ['images', '--format', '{{'],
    ['network', 'ls', '--format', '{{.Nope}}'],
    ['version', '--format', '{{.Nope}}'],
    ['version', '--format', '{{'],
    ['info', '--format', '{{.Nope}}'],
    ['info', '--format', '{{.Nope'],
  ];
  for (const args of cases) test(args.join(' '), () => same(args));
});

describe('--filter errors as the Docker CLI prints them', () => {
  // A value without `=` is a flag error (usage, 125) for every command with --filter; an unknown
  // key is the daemon's 400, exit 1.
  const cases: string[][] = [
    ['ps', '--filter', 'foo'],
    ['ps', '-f', 'foo'],
    ['images', '--filter', 'foo'],
    ['network', 'ls', '--filter', 'x'],
    ['volume', 'ls', '-f', 'x'],
    ['events', '--filter', 'x'],
    ['system', 'prune', '-f', '--filter', 'x'],
    ['image', 'prune', '-f', '--filter', 'x'],
    ['container', 'prune', '-f', '--filter', 'x'],
    ['network', 'prune', '-f', '--filter', 'x'],
    ['volume', 'prune', '-f', '--filter', 'x'],
    ['search', '--filter', 'x', 'busybox'],
    ['plugin', 'ls', '--filter', 'x'],
    ['ps', '--filter', '=x'],
    ['ps', '--filter', ''],
    ['ps', '--filter', 'foo=bar'],
    ['images', '--filter', 'nope=1'],
    ['volume', 'ls', '--filter', 'x=1'],
  ];
  for (const args of cases) test(args.join(' '), () => same(args));
});
