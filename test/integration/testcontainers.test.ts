/**
 * testcontainers (npm, Node) against wharfd (issue 5, ecosystem): a GenericContainer from the
 * locally loaded busybox image, started with a log-message wait strategy and a mapped port, serves
 * HTTP on the mapped port; stop removes it. The reaper (Ryuk) is disabled: its image cannot be had
 * without the internet, and the test removes what it starts itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countLeaks, loadBusybox, startDaemon, type Daemon } from './harness.js';

let d: Daemon;
const saved: Record<string, string | undefined> = {};

function setEnv(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  // testcontainers reads its configuration from the environment when it first connects.
  setEnv({ DOCKER_HOST: d.host, TESTCONTAINERS_RYUK_DISABLED: 'true' });
});
after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await d?.cleanup();
});

describe('testcontainers against wharfd', () => {
  test('GenericContainer with a log-message wait strategy and a mapped port', { timeout: 120_000 }, async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('busybox:latest')
      // The message comes once httpd answers: printed before its exec, it could precede the
      // listen, and a fetch right after the wait was refused.
      .withCommand([
        'sh',
        '-c',
        'mkdir -p /www; echo hello-testcontainers > /www/index.html; (until wget -q -O /dev/null http://127.0.0.1:8080/index.html; do sleep 0.05; done; echo "server ready") & exec httpd -f -p 8080 -h /www',
      ])
      .withExposedPorts(8080)
      .withLabels({ 'org.wharf.test': 'testcontainers' })
      .withWaitStrategy(Wait.forLogMessage('server ready'))
      .start();
    let stopped = false;
    try {
      const port = container.getMappedPort(8080);
      assert.ok(port > 0 && port !== 8080, `mapped port ${port}`);
      const res = await fetch(`http://${container.getHost()}:${port}/index.html`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'hello-testcontainers\n');
      const inspect = await d.docker(['inspect', '-f', '{{index .Config.Labels "org.wharf.test"}} {{.State.Running}}', container.getId()]);
      assert.equal(inspect.stdout, 'testcontainers true\n', inspect.stderr);
      const ps = await d.docker(['port', container.getId(), '8080/tcp']);
      assert.match(ps.stdout, new RegExp(`:${port}$`, 'm'));
      await container.stop();
      stopped = true;
    } finally {
      if (!stopped) await container.stop().catch(() => {});
    }
    const gone = await d.docker(['ps', '-a', '-q']);
    assert.equal(gone.stdout, '', 'stop removed the container');
    const leaks = await countLeaks(d);
    assert.deepEqual([leaks.mounts, leaks.conmon, leaks.runc], [0, 0, 0], JSON.stringify(leaks.details));
  });
});
