/**
 * wharf's history, prune, search, plugin, completion and context commands, side by side with the
 * real Docker CLI against the same wharfd: the same tables, prompts, messages and exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI_MAIN, loadBusybox, runCommand, startDaemon, type Daemon, type RunOptions, type RunResult } from './harness.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let d: Daemon;
let index: Server;
let indexHost: string;

/** A v1 search index on loopback (Docker Hub's /v1/_ping and /v1/search?q=&n=), as in compat-engine.test. */
async function startSearchIndex(): Promise<void> {
  index = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/_ping') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('true');
    } else if (url.pathname === '/v1/search') {
      const results = [
        { name: 'tools/alpha', description: 'first <one>\nwith a description that is longer than forty-five', star_count: 10, is_official: true, is_automated: true },
        { name: 'tools/beta', description: 'second', star_count: 2, is_official: false, is_automated: false },
        { name: 'tools/gamma', description: '', star_count: 5, is_official: false, is_automated: false },
      ].slice(0, Number(url.searchParams.get('n') ?? 25));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ num_results: results.length, query: url.searchParams.get('q'), results }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => index.listen(0, '127.0.0.1', resolve));
  indexHost = `127.0.0.1:${(index.address() as AddressInfo).port}`;
}

before(async () => {
  await startSearchIndex();
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
  index?.close();
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
    // The committed image's parent (busybox) names the row below, as in Docker.
    const base = (await ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']))).trim().slice('sha256:'.length, 'sha256:'.length + 12);
    assert.match(raw.stdout, new RegExp(`\\n${base} +\\d{4}-\\d\\d-\\d\\dT`));
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
    assert.match(human.split('\n')[0]!, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    assert.match(human, /\n[0-9a-f]{12} +\S.* ago +.*MB +Imported from -\n/);
    const lines = (await ok(d.wharf(['history', '--format', 'json', 'hist:1']))).trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /"CreatedBy":"sh -c echo hello \\u003e \/x/);
    assert.deepEqual(Object.keys(JSON.parse(lines[1]!)), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']);
    assert.match(JSON.parse(lines[1]!).ID, /^[0-9a-f]{12}$/);
  });

  test('errors', async () => {
    const missing = await same(['history', 'nosuch:img']);
    assert.equal(missing.code, 1);
    assert.equal((await same(['history'])).code, 1);
    assert.equal((await same(['image', 'history', 'a', 'b'])).code, 1);
  });
});

describe('prune', () => {
  test('prompts as Docker words them; no answer cancels and removes nothing', async () => {
    const dangling = (await ok(d.docker(['commit', (await ok(d.docker(['create', 'busybox']))).trim()]))).trim();
    for (const args of [
      ['image', 'prune'],
      ['image', 'prune', '-a'],
      ['system', 'prune'],
      ['system', 'prune', '-a', '--volumes', '--filter', 'label=x', '--filter', 'label=y'],
      ['system', 'prune', '--filter', 'until=1h'],
    ]) {
      const r = await same(args, { input: 'n\n' });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Are you sure you want to continue\? \[y\/N\] $/);
    }
    const builder = await d.wharf(['builder', 'prune', '-a'], { input: 'n\n' });
    assert.equal(builder.stdout, (await d.docker(['builder', 'prune', '-a'], { input: 'n\n' })).stdout);
    assert.equal(builder.stdout, 'WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] ');
    assert.equal((await same(['system', 'prune', '--volumes', '--filter', 'until=1h'])).code, 1);
    assert.equal((await ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', dangling]))).trim(), dangling);
    await ok(d.docker(['container', 'prune', '-f']));
    await ok(d.docker(['rmi', dangling]));
  });

  test('image prune removes dangling images, -a unused ones', async () => {
    const dangling = (await ok(d.docker(['commit', (await ok(d.docker(['create', 'busybox']))).trim()]))).trim();
    await ok(d.docker(['container', 'prune', '-f']));
    const out = await ok(d.wharf(['image', 'prune'], { input: 'y\n' }));
    assert.match(out, new RegExp(`^WARNING! This will remove all dangling images.\nAre you sure you want to continue\\? \\[y/N\\] Deleted Images:\ndeleted: ${dangling}\n\nTotal reclaimed space: \\S+B\n$`));
    assert.equal(await ok(d.wharf(['image', 'prune', '-f'])), 'Total reclaimed space: 0B\n');
    await ok(d.docker(['tag', 'busybox', 'unused:1']));
    const all = await ok(d.wharf(['image', 'prune', '-a', '-f', '--filter', 'label=nosuch']));
    assert.equal(all, 'Total reclaimed space: 0B\n');
    await ok(d.docker(['rmi', 'unused:1']));
  });

  test('system prune: sections in Docker order and the total; builder prune', async () => {
    const container = (await ok(d.docker(['create', '--label', 'p=1', 'busybox']))).trim();
    await ok(d.docker(['network', 'create', '--label', 'p=1', 'prunenet']));
    await ok(d.docker(['volume', 'create', '--label', 'p=1', 'prunevol']));
    const image = (await ok(d.docker(['commit', '-c', 'LABEL p=1', container]))).trim();
    const out = await ok(d.wharf(['system', 'prune', '-f', '--volumes', '--filter', 'label=p=1']));
    assert.equal(
      out.replace(/Total reclaimed space: \S+\n$/, 'TOTAL'),
      `Deleted Containers:\n${container}\n\nDeleted Networks:\nprunenet\n\nDeleted Images:\ndeleted: ${image}\n\nTOTAL`,
    );
    // volumes are anonymous-only in system prune: the named one stays
    assert.equal((await d.docker(['volume', 'inspect', 'prunevol'])).code, 0);
    assert.equal(await ok(d.wharf(['system', 'prune', '-f'])), 'Total reclaimed space: 0B\n');
    assert.equal(await ok(d.wharf(['builder', 'prune', '-f', '-a', '--filter', 'until=1h'])), (await ok(d.docker(['builder', 'prune', '-f', '-a', '--filter', 'until=1h']))));
    await ok(d.docker(['volume', 'rm', 'prunevol']));
  });
});

describe('search and plugins', () => {
  test('search prints Docker\'s table, formats, limits and filters', async () => {
    const table = await same(['search', `${indexHost}/tools`]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME +DESCRIPTION +STARS +OFFICIAL\ntools\/alpha +first <one> with a description that is longe… +10 +\[OK\]\n/);
    await same(['search', '--no-trunc', `${indexHost}/tools`]);
    await same(['search', '--limit', '2', '--filter', 'stars=3', `${indexHost}/tools`]);
    await same(['search', '--filter', 'is-official=true', '--format', '{{.Name}}:{{.StarCount}}:{{.IsOfficial}}', `${indexHost}/tools`]);
    // CLI 28's search rows have no IsAutomated (the template error's position prefix is not reproduced)
    const automated = await d.wharf(['search', '--format', '{{.IsAutomated}}', `${indexHost}/tools`]);
    assert.equal(automated.code, 1);
    assert.match(automated.stderr, /can't evaluate field IsAutomated in type \*registry.searchContext\n$/);
    await same(['search', '--format', 'json', `${indexHost}/tools`]);
    await same(['search', '--format', 'table {{.Name}}\t{{.IsOfficial}}', `${indexHost}/tools`]);
    assert.equal((await same(['search', '--limit', '101', `${indexHost}/tools`])).code, 1);
    assert.equal((await same(['search', '--limit', 'x', `${indexHost}/tools`])).code, 125);
    assert.equal((await same(['search', '127.0.0.1:1/nothing'])).code, 1);
  });

  test('plugin ls and inspect answer as Docker\'s CLI does', async () => {
    assert.equal((await same(['plugin', 'ls'])).stdout, 'ID        NAME      DESCRIPTION   ENABLED\n');
    await same(['plugin', 'list', '-q']);
    await same(['plugin', 'ls', '--no-trunc', '--filter', 'enabled=true']);
    await same(['plugin', 'ls', '--format', 'json']);
    assert.equal((await same(['plugin', 'ls', '--filter', 'foo=bar'])).code, 1);
    const missing = await same(['plugin', 'inspect', 'x', 'y']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error response from daemon: plugin "x" not found\nError response from daemon: plugin "y" not found\n');
  });
});

describe('completion', () => {
  /** Runs `bash -c script` with `wharf` on PATH as the CLI under test. */
  const bash = async (script: string) => {
    const r = await runCommand('bash', ['-c', `wharf() { "${process.execPath}" "${CLI_MAIN}" "$@"; }\n${script}`]);
    assert.equal(r.stderr, '');
    return r;
  };
  const complete = (words: string[]) =>
    `source <(wharf completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; __wharf_complete; echo "\${COMPREPLY[*]}"`;

  test('bash: the script registers itself and completes commands, sub-commands and flags from the table', async () => {
    assert.equal((await bash('source <(wharf completion bash); complete -p wharf')).stdout, 'complete -o default -F __wharf_complete wharf\n');
    assert.equal((await bash(complete(['wharf', 'cont']))).stdout, 'container context\n');
    assert.equal((await bash(complete(['wharf', '-H', 'unix:///x', 'image', 'hi']))).stdout, 'history\n');
    assert.equal((await bash(complete(['wharf', 'image', 'history', '--no-']))).stdout, '--no-trunc\n');
    assert.equal((await bash(complete(['wharf', 'system', 'prune', '--v']))).stdout, '--volumes\n');
    assert.equal((await bash(complete(['wharf', 'completion', '']))).stdout, 'bash fish zsh\n');
  });

  test('zsh and fish scripts; an unknown shell is refused', async () => {
    const zsh = await ok(d.wharf(['completion', 'zsh']));
    assert.match(zsh, /^#compdef wharf\n/);
    assert.match(zsh, /bashcompinit/);
    const fish = await ok(d.wharf(['completion', 'fish']));
    assert.match(fish, /^complete -c wharf -n '__fish_seen_subcommand_from image; and __fish_seen_subcommand_from history' -l no-trunc$/m);
    assert.match(fish, /^complete -c wharf -n __fish_use_subcommand -a '.*\bsearch\b.*'$/m);
    const bad = await d.wharf(['completion', 'tcsh']);
    assert.equal(bad.code, 1);
  });
});

describe('context', () => {
  let home: string;
  /** Both CLIs on a temp HOME and config dir, with no DOCKER_HOST: the context decides. */
  let env: Record<string, string | undefined>;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'wharf-ctx-'));
    env = { HOME: home, DOCKER_CONFIG: join(home, '.docker'), DOCKER_HOST: undefined, WHARF_HOST: undefined };
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });
  const wharf = (args: string[], extra: Record<string, string> = {}) => d.wharf(args, { env: { ...env, ...extra } });
  const docker = (args: string[], extra: Record<string, string> = {}) => d.docker(args, { env: { ...env, ...extra } });
  const both = async (args: string[], extra: Record<string, string> = {}) => {
    // only the binary's name in usage texts differs; the store's "docker" endpoint key does not
    const r = await docker(args, extra);
    const rename = (t: string) => t.replace(/(^|[ '])docker (?=[a-z])/gm, '$1wharf ');
    const want = { ...r, stdout: rename(r.stdout), stderr: rename(r.stderr) };
    const got = await wharf(args, extra);
    assert.deepEqual(got, want, `wharf ${args.join(' ')}`);
    return got;
  };

  test('an unknown context fails every command as Docker does', async () => {
    for (const [args, extra] of [
      [['-c', 'nosuchctx', 'ps'], {}],
      [['ps'], { DOCKER_CONTEXT: 'nosuchctx' }],
    ] as const) {
      const want = await docker([...args], extra);
      const got = await wharf([...args], extra);
      assert.equal(got.code, 1);
      assert.equal(got.code, want.code);
      assert.equal(got.stderr, want.stderr);
      assert.match(got.stderr, /^Failed to initialize: unable to resolve docker endpoint: context "nosuchctx": context not found: open .*\/contexts\/meta\/[0-9a-f]{64}\/meta.json: no such file or directory\n$/);
    }
    const conflict = await both(['-H', d.host, '-c', 'x', 'ps']);
    assert.equal(conflict.code, 1);
    assert.equal(conflict.stderr, 'conflicting options: cannot specify both --host and --context\n');
  });

  test('create, ls, inspect, use, show and rm share Docker\'s store', async () => {
    const created = await wharf(['context', 'create', 'wctx', '--description', 'made by wharf', '--docker', `host=${d.host}`]);
    assert.deepEqual([created.code, created.stdout, created.stderr], [0, 'wctx\n', 'Successfully created context "wctx"\n']);
    assert.equal((await docker(['context', 'create', 'dctx', '--docker', `host=${d.host}`])).code, 0);
    assert.equal((await both(['context', 'create', 'dctx', '--docker', `host=${d.host}`])).code, 1);
    assert.equal((await both(['context', 'create', 'default'])).code, 1);
    assert.equal((await both(['context', 'create', 'b@d'])).code, 1);
    // each CLI reaches the daemon through the other's context
    assert.equal((await docker(['-c', 'wctx', 'ps', '-q'])).code, 0);
    assert.equal((await wharf(['-c', 'dctx', 'ps', '-q'])).code, 0);
    const ls = await both(['-H', d.host, 'context', 'ls']);
    assert.match(ls.stdout, /^NAME +DESCRIPTION +DOCKER ENDPOINT +ERROR\ndctx +unix:\/\/.*\ndefault \* +Current DOCKER_HOST based configuration +unix:.*\nwctx +made by wharf +unix:/);
    await both(['context', 'ls', '-q']);
    await both(['context', 'ls', '--format', '{{.Name}}|{{.Current}}|{{.Description}}']);
    await both(['context', 'inspect', 'wctx', 'dctx']);
    assert.equal((await both(['context', 'inspect', 'nosuch'])).code, 1);
    await both(['context', 'show']);

    const use = await wharf(['context', 'use', 'dctx']);
    assert.deepEqual([use.code, use.stdout, use.stderr], [0, 'dctx\n', 'Current context is now "dctx"\n']);
    assert.equal((await docker(['context', 'show'])).stdout, 'dctx\n');
    assert.equal(JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8')).currentContext, 'dctx');
    assert.equal((await wharf(['version', '--format', '{{.Server.APIVersion}}'])).code, 0);
    assert.equal((await wharf(['context', 'show'], { DOCKER_CONTEXT: 'wctx' })).stdout, 'wctx\n');
    assert.equal((await docker(['context', 'use', 'wctx'])).code, 0);
    assert.equal((await wharf(['context', 'show'])).stdout, 'wctx\n');
    // (the default context's endpoint is each CLI's own default socket)
    await both(['context', 'ls', '--format', '{{.Name}}|{{.Current}}|{{.Error}}']);
    const json = (await wharf(['context', 'ls', '--format', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json.map((c) => [c.Name, c.Current]), [['dctx', false], ['default', false], ['wctx', true]]);
    assert.deepEqual(Object.keys(json[0]), ['Current', 'Description', 'DockerEndpoint', 'Error', 'Name']);

    const inUse = await both(['context', 'rm', 'wctx']);
    assert.equal(inUse.code, 1);
    assert.equal((await both(['context', 'rm', 'nosuch'])).code, 1);
    assert.equal((await wharf(['context', 'rm', '-f', 'wctx'])).stdout, 'wctx\n');
    await both(['context', 'rm', '-f', 'wctx']);
    assert.equal((await docker(['context', 'show'])).stdout, 'default\n');
    assert.equal((await wharf(['context', 'rm', 'dctx'])).stdout, 'dctx\n');
    assert.equal((await docker(['context', 'ls', '-q'])).stdout, 'default\n');
  });
});

describe('run flags', () => {
  const flagNames = (help: string) => [...help.matchAll(/^\s+(?:-\w, )?--([a-z0-9-]+)/gm)].map((m) => m[1]).sort();

  test('run --help lists Docker\'s run flags, each default once', async () => {
    const mine = await ok(d.wharf(['run', '--help']));
    const theirs = await ok(d.docker(['run', '--help']));
    // --use-api-socket (Docker 28's experimental socket forwarding) is not wharf's
    const missing = flagNames(theirs).filter((f) => !flagNames(mine).includes(f) && f !== 'use-api-socket');
    assert.deepEqual(missing, []);
    assert.doesNotMatch(mine, /\(default: /);
    assert.match(mine, /--sig-proxy +Proxy received signals to the process\s+\(default true\)\n/);
  });

  test('per-device block IO flags reach HostConfig; bad values and --gpus are refused', async () => {
    const flags = ['--device-read-bps', '/dev/sda:1mb', '--device-write-bps', '/dev/sda:2kb', '--device-read-iops', '/dev/sda:20', '--device-write-iops', '/dev/sda:30', '--blkio-weight-device', '/dev/sda:200'];
    const blkio = async (cli: 'wharf' | 'docker') => {
      const r = await d[cli](['create', ...flags, 'busybox', 'true']);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim().split('\n').at(-1)!;
      const hc = JSON.parse(await ok(d.docker(['inspect', '-f', '{{json .HostConfig}}', id])));
      await ok(d.docker(['rm', id]));
      const keys = ['BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'BlkioWeightDevice'];
      return { fields: Object.fromEntries(keys.map((k) => [k, hc[k]])), stderr: r.stderr };
    };
    const mine = await blkio('wharf');
    assert.deepEqual(mine.fields.BlkioDeviceReadBps, [{ Path: '/dev/sda', Rate: 1048576 }]);
    assert.deepEqual(mine.fields.BlkioDeviceWriteBps, [{ Path: '/dev/sda', Rate: 2048 }]);
    assert.deepEqual(mine.fields.BlkioDeviceReadIOps, [{ Path: '/dev/sda', Rate: 20 }]);
    assert.deepEqual(mine.fields.BlkioDeviceWriteIOps, [{ Path: '/dev/sda', Rate: 30 }]);
    // what the daemon keeps (a kernel without weight_device discards it with a warning) is as for Docker's CLI
    const theirs = await blkio('docker');
    assert.deepEqual(mine, { ...theirs, stderr: theirs.stderr.replaceAll('docker', 'wharf') });
    for (const bad of [['--device-read-bps', 'sda:1'], ['--device-read-bps', '/dev/sda:x'], ['--device-write-iops', '/dev/sda:1k'], ['--blkio-weight-device', '/dev/sda:5']]) {
      assert.equal((await same(['run', ...bad, 'busybox', 'true'])).code, 125);
    }
    const gpus = await d.wharf(['run', '--gpus', 'all', 'busybox', 'true']);
    assert.equal(gpus.code, 125);
    assert.match(gpus.stderr, /--gpus is not supported/);
    assert.equal(await ok(d.docker(['ps', '-aq'])), '');
  });
});
