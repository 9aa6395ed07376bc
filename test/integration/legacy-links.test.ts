/**
 * Legacy `--link` through the real Docker CLI (issue 11): on the default bridge the linked
 * container gets moby's link variables and /etc/hosts line, inspect shows `/target:/parent/alias`,
 * `docker rm --link parent/alias` drops the link (and its hosts line) with Docker's errors for a
 * missing one, and a stopped or missing target gives Docker's errors and exit codes. On a user
 * network a link is an alias only the linking container resolves, with no variables.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadBusybox, socketRequest, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
const NET = `ln${randomBytes(3).toString('hex')}`;

async function docker(args: string[]): Promise<string> {
  const r = await d.docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.docker(['rm', '-f', 'target', 'parent', 'stopped', 'lonely', 'ut', 'ulink', 'ltarget', 'lparent', 'lparent2']).catch(() => {});
  await d?.docker(['network', 'rm', NET]).catch(() => {});
  await d?.cleanup();
});

describe('legacy links on the default bridge', () => {
  test('variables, hosts line, inspect form, rm --link and its errors', async () => {
    await docker(['run', '-d', '--name', 'target', '--hostname', 'tgthost', '-e', 'FOO=bar baz', '-e', 'PATH=/x', '--expose', '80', '--expose', '81', '--expose', '53/udp', 'busybox', '/bin/sleep', '300']);
    const ip = (await docker(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'target'])).trim();
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);

    await docker(['run', '-d', '--name', 'parent', '--link', 'target:db-1', 'busybox', 'sleep', '300']);
    const env = (await docker(['exec', 'parent', 'env'])).split('\n');
    const expected = [
      `DB_1_PORT=tcp://${ip}:80`,
      `DB_1_PORT_80_TCP=tcp://${ip}:80`,
      `DB_1_PORT_80_TCP_ADDR=${ip}`,
      'DB_1_PORT_80_TCP_PORT=80',
      'DB_1_PORT_80_TCP_PROTO=tcp',
      `DB_1_PORT_81_TCP=tcp://${ip}:81`,
      `DB_1_PORT_80_TCP_START=tcp://${ip}:80`,
      'DB_1_PORT_80_TCP_PORT_START=80',
      `DB_1_PORT_80_TCP_END=tcp://${ip}:81`,
      'DB_1_PORT_80_TCP_PORT_END=81',
      `DB_1_PORT_53_UDP=udp://${ip}:53`,
      'DB_1_PORT_53_UDP_PROTO=udp',
      'DB_1_NAME=/parent/db-1',
      'DB_1_ENV_FOO=bar baz',
    ];
    for (const e of expected) assert.ok(env.includes(e), `${e} missing from:\n${env.join('\n')}`);
    assert.ok(!env.some((e) => e.startsWith('DB_1_ENV_PATH=')), 'PATH is not passed on');
    const hosts = await docker(['exec', 'parent', 'cat', '/etc/hosts']);
    assert.ok(hosts.split('\n').includes(`${ip}\tdb-1 tgthost target`), hosts);
    assert.equal((await docker(['exec', 'parent', 'ping', '-c1', '-W2', 'db-1'])).includes(ip), true);

    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'parent'])).trim(), '["/target:/parent/db-1"]');
    // The list names the target by its links too (Docker's names index); the CLI shows them with --no-trunc.
    const psNames = () => docker(['ps', '--no-trunc', '--filter', 'name=target', '--format', '{{.Names}}']);
    assert.equal(await psNames(), 'parent/db-1,target\n');

    let r = await d.docker(['rm', '--link', 'parent/nosuch']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error response from daemon: No such container: parent/nosuch');
    r = await d.docker(['rm', '--link', 'target']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error response from daemon: Conflict, cannot remove the default link name of the container');

    assert.equal(await docker(['rm', '--link', '/parent/db-1']), '/parent/db-1\n');
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'parent'])).trim(), 'null');
    assert.equal(await psNames(), 'target\n');
    assert.ok(!(await docker(['exec', 'parent', 'cat', '/etc/hosts'])).includes('db-1'));
    assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'parent', 'target'])).trim(), 'true\ntrue');
    await docker(['rm', '-f', 'parent']);
  });

  test('a link is a name of its target: parent/alias reaches it through the API, after a rename too', async () => {
    await docker(['run', '-d', '--name', 'ltarget', 'busybox', 'sleep', '300']);
    const target = (await docker(['inspect', '-f', '{{.Id}}', 'ltarget'])).trim();
    // moby joins the alias to the parent's name: `:/mysql` is the alias mysql.
    await docker(['run', '-d', '--name', 'lparent', '--link', 'ltarget:/mysql', 'busybox', 'sleep', '300']);
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'lparent'])).trim(), '["/ltarget:/lparent/mysql"]');
    assert.match(await docker(['exec', 'lparent', 'cat', '/etc/hosts']), /\tmysql [0-9a-f]{12} ltarget\n/);
    assert.ok((await docker(['exec', 'lparent', 'env'])).includes('MYSQL_NAME=/lparent/mysql'));
    // Every container route takes a name with slashes (moby's {name:.*}).
    const inspectId = async (ref: string) => JSON.parse((await socketRequest(d.socket, 'GET', `/v1.47/containers/${ref}/json`)).body) as { Id?: string; message?: string };
    assert.equal((await inspectId('lparent/mysql')).Id, target);
    assert.equal(await docker(['inspect', '-f', '{{.Name}}', '/lparent/mysql']), '/ltarget\n');
    await docker(['rename', 'lparent', 'lparent2']);
    assert.equal((await inspectId('lparent2/mysql')).Id, target);
    assert.equal((await inspectId('lparent/mysql')).message, 'No such container: lparent/mysql');
    assert.equal((await inspectId('ltarget/mysql')).message, 'No such container: ltarget/mysql');
    await docker(['rm', '-f', 'lparent2', 'ltarget']);
  });

  test('a stopped or missing target: Docker errors and exit codes', async () => {
    await docker(['create', '--name', 'stopped', 'busybox', 'true']);
    let r = await d.docker(['run', '--name', 'lonely', '--link', 'stopped:s', 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /Error response from daemon: Cannot link to a non running container: \/stopped AS \/lonely\/s/);
    r = await d.docker(['start', 'lonely']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot link to a non running container: \/stopped AS \/lonely\/s/);

    r = await d.docker(['run', '--rm', '--link', 'nosuch:x', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /Error response from daemon: could not get container for nosuch: No such container: nosuch/);
    await docker(['rm', 'lonely', 'stopped']);
  });
});

describe('links on a user-defined network', () => {
  test('the alias resolves for the linking container only; no variables; inspect as Docker', async () => {
    await docker(['network', 'create', NET]);
    await docker(['run', '-d', '--name', 'ut', '--network', NET, '--expose', '80', 'busybox', 'sleep', '300']);
    const ip = (await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`, 'ut'])).trim();
    await docker(['run', '-d', '--name', 'ulink', '--network', NET, '--link', 'ut:web', 'busybox', 'sleep', '300']);
    assert.match(await docker(['exec', 'ulink', 'nslookup', 'web']), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}`));
    assert.ok(!(await docker(['exec', 'ulink', 'env'])).includes('WEB_'));
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'ulink'])).trim(), 'null');
    assert.equal((await docker(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${NET}").Links}}`, 'ulink'])).trim(), '["ut:web"]');
    const other = await d.docker(['run', '--rm', '--network', NET, 'busybox', 'nslookup', 'web']);
    assert.notEqual(other.code, 0, `another container resolved the link alias: ${other.stdout}`);
  });
});
