/**
 * docker-compose (Debian's v1, docker-py underneath) against wharfd (issue 5, ecosystem): a
 * two-service project — a busybox httpd "web" with a named volume and a "client" that depends on
 * it and fetches http://web/ by its service name over the project's default network — through
 * `up -d`, `ps`, `logs`, `exec`, `run --rm`, a recreate that keeps the volume's data, and `down -v`, after
 * which no container, network or volume of the project remains. `run` and `exec` go through the
 * Docker CLI as compose does by default (COMPOSE_INTERACTIVE_NO_CLI unset).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countLeaks, loadBusybox, runCommand, startDaemon, waitFor, type Daemon, type RunResult } from './harness.js';

let d: Daemon;
let dir: string;
const PROJECT = `wc${randomBytes(3).toString('hex')}`;

const COMPOSE_FILE = `version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && echo web ready && exec httpd -f -p 80 -h /www"]
    volumes:
      - data:/data
  client:
    image: busybox:latest
    depends_on:
      - web
    command: ["sh", "-c", "echo client start; until wget -qO- http://web/; do sleep 0.2; done; exec sleep 3600"]
volumes:
  data:
`;

function compose(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runCommand('docker-compose', ['--ansi', 'never', '-p', PROJECT, ...args], {
    cwd: dir,
    env: { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.root, 'docker-config'), ...env },
    timeoutMs: 120_000,
  });
}

async function ok(args: string[], env?: Record<string, string>): Promise<RunResult> {
  const r = await compose(args, env);
  assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

async function docker(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const lines = (s: string) => s.split('\n').filter(Boolean).sort();

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  dir = join(d.root, 'project');
  await mkdir(dir);
  await writeFile(join(dir, 'docker-compose.yml'), COMPOSE_FILE);
});
after(async () => {
  await d?.cleanup();
});

describe('docker-compose v1 against wharfd', () => {
  test('up -d creates the network, the volume and both services, web first', async () => {
    const up = await ok(['up', '-d']);
    assert.match(up.stderr, new RegExp(`Creating network "${PROJECT}_default" with the default driver`));
    assert.match(up.stderr, new RegExp(`Creating volume "${PROJECT}_data" with default driver`));
    assert.ok(up.stderr.indexOf(`Creating ${PROJECT}_web_1`) < up.stderr.indexOf(`Creating ${PROJECT}_client_1`), up.stderr);
    assert.deepEqual(lines(await docker(['ps', '--format', '{{.Names}} {{.State}}'])), [`${PROJECT}_client_1 running`, `${PROJECT}_web_1 running`]);
    const labels = await docker(['volume', 'inspect', '-f', '{{index .Labels "com.docker.compose.project"}} {{.Driver}}', `${PROJECT}_data`]);
    assert.equal(labels, `${PROJECT} local\n`);
    const aliases = await docker(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${PROJECT}_default").Aliases}}`, `${PROJECT}_web_1`]);
    assert.ok((JSON.parse(aliases) as string[]).includes('web'), aliases);
    const again = await ok(['up', '-d']);
    assert.match(again.stderr, new RegExp(`${PROJECT}_web_1 is up-to-date`));
  });

  test('ps lists both services Up', async () => {
    const ps = await ok(['ps']);
    const rows = ps.stdout.split('\n').filter((l) => l.startsWith(`${PROJECT}_`));
    assert.equal(rows.length, 2, ps.stdout);
    for (const row of rows) assert.match(row, /\sUp\s/);
  });

  test('logs: the client reached web by its service name through the embedded DNS', async () => {
    const out = await waitFor(
      async () => {
        const r = await compose(['logs', '--no-color']);
        return r.code === 0 && r.stdout.includes('hello-from-web') ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'client_1 to log the page it fetched from web' },
    );
    assert.match(out, /^client_1\s+\| client start$/m);
    assert.match(out, /^client_1\s+\| hello-from-web$/m);
    assert.match(out, /^web_1\s+\| web ready$/m);
  });

  test("exec runs in the service's container with its exit code; writes to the named volume", async () => {
    const web = await ok(['exec', '-T', 'web', 'sh', '-c', 'echo stored > /data/x && cat /www/index.html']);
    assert.equal(web.stdout, 'hello-from-web\n');
    const client = await ok(['exec', '-T', 'client', 'wget', '-qO-', 'http://web/']);
    assert.equal(client.stdout, 'hello-from-web\n');
    const code = await compose(['exec', '-T', 'client', 'sh', '-c', 'exit 3']);
    assert.equal(code.code, 3, code.stderr);
  });

  test('run --rm: a one-off container on the project network, removed afterwards', async () => {
    const run = await ok(['run', '--rm', '-T', 'client', 'wget', '-qO-', 'http://web/']);
    assert.equal(run.stdout, 'hello-from-web\n');
    assert.deepEqual(lines(await docker(['ps', '-a', '--format', '{{.Names}}'])), [`${PROJECT}_client_1`, `${PROJECT}_web_1`]);
  });

  // Recreating reads the image's ContainerConfig, which API 1.45 removed: compose v1 fails there
  // against Docker 25+ too (KeyError: 'ContainerConfig'), and works at the API version of
  // Debian's own docker.io (1.41), which COMPOSE_API_VERSION selects.
  test('a recreated web keeps the named volume (COMPOSE_API_VERSION=1.41)', async () => {
    const before = (await docker(['inspect', '-f', '{{.Id}}', `${PROJECT}_web_1`])).trim();
    await ok(['up', '-d', '--force-recreate', 'web'], { COMPOSE_API_VERSION: '1.41' });
    const afterId = (await docker(['inspect', '-f', '{{.Id}}', `${PROJECT}_web_1`])).trim();
    assert.notEqual(afterId, before);
    assert.equal((await ok(['exec', '-T', 'web', 'cat', '/data/x'])).stdout, 'stored\n');
  });

  test('down -v removes containers, the network and the volume', async () => {
    const down = await ok(['down', '-v']);
    assert.match(down.stderr, new RegExp(`Removing network ${PROJECT}_default`));
    assert.match(down.stderr, new RegExp(`Removing volume ${PROJECT}_data`));
    assert.equal(await docker(['ps', '-a', '-q']), '');
    assert.equal(await docker(['volume', 'ls', '-q']), '');
    assert.deepEqual(lines(await docker(['network', 'ls', '--format', '{{.Name}}'])), ['bridge', 'host', 'none']);
    assert.equal((await ok(['ps'])).stdout.split('\n').filter((l) => l.startsWith(`${PROJECT}_`)).length, 0);
    const leaks = await countLeaks(d);
    assert.deepEqual([leaks.mounts, leaks.conmon, leaks.runc], [0, 0, 0], JSON.stringify(leaks.details));
  });
});
