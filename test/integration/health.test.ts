/**
 * Health checks against a real wharfd: --health-* flags and an image's HEALTHCHECK, status and
 * log in inspect, `(healthy)` in ps and the health filter, health_status events, timeouts,
 * --no-healthcheck, the monitor stopping with the container and the state kept across a
 * daemon restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { buildBusyboxRootfsBuffer } from '../fixtures/busybox.js';
import { loadBusybox, startDaemon, waitFor, type Daemon } from './harness.js';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  const changes = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sleep", "1000"]', 'HEALTHCHECK --interval=150ms --retries=1 CMD ["sh", "-c", "echo image-probe"]'];
  const r = await d.wharf(['import', ...changes.flatMap((c) => ['--change', c]), '-', 'hc-image'], { input: await buildBusyboxRootfsBuffer(), timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await d?.cleanup();
});

async function health(name: string): Promise<Health | null> {
  const r = await d.docker(['inspect', '-f', '{{json .State.Health}}', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Health | null;
}

async function psStatus(name: string): Promise<string> {
  return (await d.docker(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).stdout.trim();
}

describe('health checks', () => {
  test('--health-cmd: starting, unhealthy after the retries, healthy once the probe passes; ps and events follow', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await d.docker(['run', '-d', '--name', 'h1', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '150ms', '--health-retries', '2', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const first = await health('h1');
    assert.ok(first);
    assert.ok(['starting', 'unhealthy'].includes(first.Status));

    const bad = await waitFor(async () => {
      const h = await health('h1');
      return h?.Status === 'unhealthy' ? h : undefined;
    }, { what: 'h1 unhealthy' });
    assert.ok(bad.FailingStreak >= 2);
    assert.equal(bad.Log.at(-1)!.ExitCode, 1);
    assert.match(bad.Log.at(-1)!.Start, /^\d{4}-\d\d-\d\dT/);
    assert.match(await psStatus('h1'), /^Up .* \(unhealthy\)$/);

    assert.equal((await d.docker(['exec', 'h1', 'touch', '/tmp/ok'])).code, 0);
    const good = await waitFor(async () => {
      const h = await health('h1');
      return h?.Status === 'healthy' ? h : undefined;
    }, { what: 'h1 healthy' });
    assert.equal(good.FailingStreak, 0);
    assert.equal(good.Log.at(-1)!.Output, 'fine\n');
    assert.match(await psStatus('h1'), /^Up .* \(healthy\)$/);
    const filtered = (await d.docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).stdout.split('\n');
    assert.ok(filtered.includes('h1'));
    assert.ok(!(await d.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout.split('\n').includes('h1'));

    // The log keeps the last five results.
    await waitFor(async () => (await health('h1'))!.Log.length === 5, { what: 'five log entries' });
    const until = Math.ceil(Date.now() / 1000) + 1;
    const ev = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'container=h1', '--filter', 'event=health_status', '--format', '{{.Action}}']);
    assert.equal(ev.code, 0, ev.stderr);
    const actions = ev.stdout.trim().split('\n');
    assert.ok(actions.includes('health_status: unhealthy'), ev.stdout);
    assert.ok(actions.includes('health_status: healthy'), ev.stdout);
  });

  test('stop ends the monitor: unhealthy, no more probes, no (health) in ps', async () => {
    assert.equal((await d.docker(['stop', '-t', '0', 'h1'])).code, 0);
    const h = await health('h1');
    assert.equal(h!.Status, 'unhealthy');
    const entries = JSON.stringify(h!.Log);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(JSON.stringify((await health('h1'))!.Log), entries);
    assert.match(await psStatus('h1'), /^Exited \(137\)/);
    // A new start is `starting` again and probes resume.
    assert.equal((await d.docker(['start', 'h1'])).code, 0);
    // Reset at start: `starting`, or already `healthy` when the first probe (150 ms in) ran before
    // this inspect on a loaded machine; never the `unhealthy` the stop left.
    assert.ok(['starting', 'healthy'].includes((await health('h1'))!.Status));
    // /tmp/ok is still in the container's layer: the first probe passes.
    await waitFor(async () => (await health('h1'))?.Status === 'healthy', { what: 'probes after restart' });
    assert.equal((await d.docker(['rm', '-f', 'h1'])).code, 0);
  });

  test('--health-timeout: a probe past it is killed and logged as Docker does', async () => {
    const r = await d.docker(['run', '-d', '--name', 'h2', '--health-cmd', 'echo slow; sleep 30', '--health-interval', '100ms', '--health-timeout', '300ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const h = await waitFor(async () => {
      const x = await health('h2');
      return x?.Status === 'unhealthy' ? x : undefined;
    }, { what: 'h2 unhealthy' });
    assert.equal(h.Log[0]!.ExitCode, -1);
    assert.equal(h.Log[0]!.Output, 'Health check exceeded timeout (300ms): slow\n');
    assert.equal((await d.docker(['rm', '-f', 'h2'])).code, 0);
  });

  test('HEALTHCHECK from the image (CMD form), and --no-healthcheck turns it off', async () => {
    const r = await d.docker(['run', '-d', '--name', 'h3', 'hc-image']);
    assert.equal(r.code, 0, r.stderr);
    const h = await waitFor(async () => {
      const x = await health('h3');
      return x?.Status === 'healthy' ? x : undefined;
    }, { what: 'h3 healthy' });
    assert.equal(h.Log[0]!.Output, 'image-probe\n');
    assert.equal((await d.docker(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'h3'])).stdout.trim(), '["CMD","sh","-c","echo image-probe"]');

    const n = await d.docker(['run', '-d', '--name', 'h4', '--no-healthcheck', 'hc-image']);
    assert.equal(n.code, 0, n.stderr);
    await new Promise((res) => setTimeout(res, 400));
    assert.equal(await health('h4'), null);
    assert.match(await psStatus('h4'), /^Up [^(]*$/);
    assert.equal((await d.docker(['rm', '-f', 'h4'])).code, 0);
  });

  test('health is persisted with the record and monitoring resumes after a daemon restart', async () => {
    await d.restart();
    const h = await health('h3');
    assert.ok(h && h.Log.length > 0);
    const last = h.Log.at(-1)!.End;
    await waitFor(async () => (await health('h3'))!.Log.at(-1)!.End !== last, { what: 'a probe after the restart' });
    assert.equal((await d.docker(['rm', '-f', 'h3'])).code, 0);
  });

  test('dockerode: a CMD healthcheck through the API, a failing command', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const c = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sleep', '1000'],
      Healthcheck: { Test: ['CMD', 'nosuchprobe'], Interval: 100_000_000, Retries: 1 },
    });
    await c.start();
    const h = await waitFor(async () => {
      const s = ((await c.inspect()).State as { Health?: Health }).Health;
      return s?.Status === 'unhealthy' ? s : undefined;
    }, { what: 'API container unhealthy' });
    assert.equal(h.Log[0]!.ExitCode, -1);
    assert.match(h.Log[0]!.Output, /executable file not found in \$PATH/);
    await c.remove({ force: true });
  });
});
