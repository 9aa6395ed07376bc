/**
 * wharf's history, prune, search, plugin, completion and context commands, side by side with the
 * real Docker CLI against the same wharfd: the same tables, prompts, messages and exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBusybox, startDaemon, type Daemon, type RunOptions, type RunResult } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

/** Docker's output with its binary name replaced by wharf's, for comparison. */
const asWharf = (r: RunResult): RunResult => ({ ...r, stdout: r.stdout.replaceAll('docker', 'wharf'), stderr: r.stderr.replaceAll('docker', 'wharf') });

/** Runs the same arguments through both CLIs and asserts identical output and exit code. */
async function same(args: string[], opts?: RunOptions): Promise<RunResult> {
  const want = asWharf(await d.docker(args, opts));
  const got = await d.wharf(args, opts);
  assert.deepEqual(got, want, `wharf ${args.join(' ')}`);
  return got;
}

async function ok(r: Promise<RunResult>): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

describe('history', () => {
  before(async () => {
    const id = (await ok(d.docker(['create', 'busybox', 'sh', '-c', 'echo hello > /x && echo "a long command line that goes past forty-five columns"']))).trim();
    await ok(d.docker(['start', '-a', id]));
    await ok(d.docker(['commit', '-c', 'CMD ["sh"]', '-m', 'a <note>', id, 'hist:1']));
    await ok(d.docker(['rm', id]));
  });

  test('the table, raw and untruncated, as Docker prints it', async () => {
    const raw = await same(['history', '--human=false', 'hist:1']);
    assert.match(raw.stdout, /^IMAGE +CREATED AT +CREATED BY +SIZE +COMMENT\n/);
    assert.match(raw.stdout, /\n<missing> +\d{4}-\d\d-\d\dT/);
    // CREATED BY is cut to 45 columns, the last being an ellipsis
    assert.match(raw.stdout, / {3}sh -c echo hello > \/x && echo "a long comman… {3}\d+ +a <note>\n/);
    const full = await same(['image', 'history', '--no-trunc', '-H=false', 'hist:1']);
    assert.match(full.stdout, /\nsha256:[0-9a-f]{64} /);
    assert.match(full.stdout, /past forty-five columns"/);
    await same(['history', '-q', 'hist:1']);
    await same(['history', '-q', '--no-trunc', 'hist:1']);
    await same(['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'hist:1']);
    await same(['history', '--format', 'table {{.ID}}\t{{.Size}}', 'hist:1']);
  });

  test('human sizes and ages, json', async () => {
    const human = await ok(d.wharf(['history', 'hist:1']));
    assert.match(human.split('\n')[0], /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    assert.match(human, /\n<missing> +\S.* ago +.*MB +Imported from -\n/);
    const lines = (await ok(d.wharf(['history', '--format', 'json', 'hist:1']))).trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /"CreatedBy":"sh -c echo hello \\u003e \/x/);
    assert.deepEqual(Object.keys(JSON.parse(lines[1])), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']);
    assert.equal(JSON.parse(lines[1]).ID, '<missing>');
  });

  test('errors', async () => {
    const missing = await same(['history', 'nosuch:img']);
    assert.equal(missing.code, 1);
    assert.equal((await same(['history'])).code, 1);
    assert.equal((await same(['image', 'history', 'a', 'b'])).code, 1);
  });
});
