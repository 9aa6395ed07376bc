/**
 * wharfd as a service: SIGHUP reloads daemon.json as dockerd does (labels, debug, registry
 * mirrors and insecure registries, concurrency), a bad file keeps the configuration in force
 * and logs why, and the daemon is the same process throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon({ config: { labels: ['stage=one'] } });
});

after(async () => {
  await d?.cleanup();
});

async function info(field: string): Promise<string> {
  const r = await d.docker(['info', '--format', `{{json .${field}}}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('SIGHUP applies the reloadable keys of daemon.json; a bad file keeps the old configuration', async () => {
  const pid = d.pid;
  assert.equal(await info('Labels'), '["stage=one"]');
  const current = JSON.parse(await readFile(d.configFile, 'utf8'));
  await writeFile(
    d.configFile,
    JSON.stringify({ ...current, labels: ['stage=two', 'team=core'], debug: true, 'registry-mirrors': ['http://127.0.0.1:9/'], 'insecure-registries': ['reg.test:5000'] }),
  );
  process.kill(pid, 'SIGHUP');
  await waitFor(async () => (await info('Labels')) === '["stage=two","team=core"]', { what: 'labels reloaded' });
  const reg = JSON.parse(await info('RegistryConfig'));
  assert.deepEqual(reg.Mirrors, ['http://127.0.0.1:9/']);
  assert.equal(reg.IndexConfigs['reg.test:5000'].Secure, false);
  assert.equal(await info('Debug'), 'true');
  assert.match(d.log(), /Reloaded configuration: \{"debug":true,"labels":\["stage=two","team=core"\]/);
  // Debug now traces requests.
  await d.docker(['ps']);
  await waitFor(() => /Calling GET \/v[\d.]+\/containers\/json/.test(d.log()), { what: 'debug request trace' });

  await writeFile(d.configFile, '{ "labels": [');
  process.kill(pid, 'SIGHUP');
  await waitFor(() => /Error reconfiguring the daemon: unable to configure the wharf daemon with file /.test(d.log()), { what: 'reload error logged' });
  assert.equal(await info('Labels'), '["stage=two","team=core"]', 'the configuration in force is kept');

  await writeFile(d.configFile, JSON.stringify({ ...current, 'no-such-option': 1 }));
  process.kill(pid, 'SIGHUP');
  await waitFor(() => /don't match any configuration option: no-such-option/.test(d.log()), { what: 'unknown key refused' });
  assert.equal(d.pid, pid);
  assert.equal((await d.docker(['version', '--format', '{{.Server.Version}}'])).code, 0, 'the same daemon still answers');
  assert.ok(!/BUG:/.test(d.log()));
});
