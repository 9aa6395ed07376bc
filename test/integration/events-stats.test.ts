/**
 * Events and stats against a real wharfd, through the Docker CLI and wharf: replay with
 * since/until, filters, a live stream that ends at until, Docker's event shapes; stats with a
 * memory limit, a busy loop's CPU %, pid counts, a stopped container's zeroed sample.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { cliOk, countLeaks, loadBusybox, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
});
after(async () => {
  await d?.cleanup();
});

const ok = (args: string[], tool: 'wharf' | 'docker' = 'wharf'): Promise<string> => cliOk(d, tool, args);

/** GET on the daemon socket; resolves with status and body once the response ends. */
const get = (path: string) => socketRequest(d.socket, 'GET', path);

const nowSecs = () => (Date.now() / 1000).toFixed(3);

describe('events', () => {
  test('a container life replayed with since/until through docker and wharf, with Docker attributes', async () => {
    const since = nowSecs();
    const id = (await ok(['run', '-d', '--name', 'ev1', '-l', 'team=a', 'busybox', 'sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.1; done'])).trim();
    await ok(['stop', 'ev1']);
    await ok(['rename', 'ev1', 'ev2']);
    await ok(['rm', 'ev2']);
    const until = (Date.now() / 1000 + 0.2).toFixed(3);
    await waitFor(() => Date.now() / 1000 > Number(until), { what: 'until in the past' });

    const lines = (await ok(['events', '--since', since, '--until', until, '--filter', 'type=container'], 'docker')).trim().split('\n');
    const actions = lines.map((l) => l.split(' ')[2]);
    assert.deepEqual(actions, ['create', 'start', 'kill', 'die', 'stop', 'rename', 'destroy']);
    assert.match(lines[0]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(Z|[+-]\\d\\d:\\d\\d) container create ${id} \\(image=busybox, name=ev1, team=a\\)$`));
    assert.match(lines[2]!, /\(image=busybox, name=ev1, signal=15, team=a\)$/);
    assert.match(lines[3]!, /\(execDuration=\d+, exitCode=3, image=busybox, name=ev1, team=a\)$/);
    assert.match(lines[5]!, /\(image=busybox, name=ev2, oldName=\/ev1, team=a\)$/);

    // wharf prints the same lines; --format json gives Docker's message shape.
    assert.deepEqual((await ok(['events', '--since', since, '--until', until, '--filter', 'type=container'])).trim().split('\n'), lines);
    const json = (await ok(['events', '--since', since, '--until', until, '--filter', 'event=die', '--format', '{{json .}}'])).trim().split('\n');
    assert.equal(json.length, 1);
    const die = JSON.parse(json[0]!);
    assert.equal(die.status, 'die');
    assert.equal(die.id, id);
    assert.equal(die.from, 'busybox');
    assert.equal(die.Type, 'container');
    assert.equal(die.Actor.Attributes.exitCode, '3');
    assert.equal(die.scope, 'local');
    assert.equal(die.time, Math.floor(Number(BigInt(die.timeNano) / 1_000_000n) / 1000));

    // Network events of the start and exit, and filters by container name prefix and label.
    const net = (await ok(['events', '--since', since, '--until', until, '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}'], 'docker')).trim();
    assert.equal(net, `connect bridge ${id}\ndisconnect bridge ${id}`);
    const byName = await ok(['events', '--since', since, '--until', until, '--filter', 'container=ev', '--filter', 'event=start', '--format', '{{.Actor.ID}}'], 'docker');
    assert.equal(byName, `${id}\n`);
    assert.equal(await ok(['events', '--since', since, '--until', until, '--filter', 'label=team=b', '--format', '{{.Action}}'], 'docker'), '');
  });

  test("image events carry the image's labels, so a label filter finds tag and untag", async () => {
    const since = nowSecs();
    await ok(['run', '--name', 'evlab', 'busybox', 'true'], 'docker');
    await ok(['commit', '-c', 'LABEL io.wharf.t=image', 'evlab', 'evlabeled:one'], 'docker');
    await ok(['tag', 'evlabeled:one', 'evlabeled:two'], 'docker');
    await ok(['rmi', 'evlabeled:two'], 'docker');
    const until = (Date.now() / 1000 + 0.5).toFixed(3);
    const out = await ok(['events', '--since', since, '--until', until, '--filter', 'type=image', '--filter', 'label=io.wharf.t=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], 'docker');
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'evlabeled:one'], 'docker')).trim();
    assert.equal(out, `tag evlabeled:one\ntag evlabeled:two\nuntag ${id}\n`);
    await ok(['rm', 'evlab'], 'docker');
    await ok(['rmi', 'evlabeled:one'], 'docker');
  });

  test('an OOM is reported as it happens: the oom event and OOMKilled while the container runs on, kept at exit', async () => {
    // A child of the init meets the limit and is killed; the init notices and waits for its stop.
    // Only the first start runs the hog (the marker stays in the container's filesystem).
    const hog = "x=a; while true; do x=$x$x$x$x; done";
    const since = nowSecs();
    const cmd = `[ -e /ran ] || { touch /ran; sh -c '${hog}'; echo child $?; }; sleep 300`;
    await ok(['run', '-d', '--name', 'oomer', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', cmd]);
    await waitFor(async () => (await ok(['logs', 'oomer'])) === 'child 137\n', { what: 'the hog killed by the OOM killer' });
    // The event and the state come while it runs, not at its exit.
    await waitFor(async () => (await ok(['inspect', '-f', '{{.State.Running}} {{.State.OOMKilled}}', 'oomer'])) === 'true true\n', { what: 'OOMKilled while running' });
    const events = () => ok(['events', '--since', since, '--until', nowSecs(), '--filter', 'container=oomer', '--format', '{{.Action}}'], 'docker');
    assert.ok((await events()).split('\n').includes('oom'), await events());
    await ok(['stop', '-t', '0', 'oomer']);
    assert.equal(await ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oomer']), 'true 137\n');
    // One OOM, one event: the exit does not report it again.
    assert.equal((await events()).split('\n').filter((a) => a === 'oom').length, 1);
    // A new start begins without it.
    await ok(['start', 'oomer']);
    assert.equal(await ok(['inspect', '-f', '{{.State.OOMKilled}}', 'oomer']), 'false\n');
    await ok(['rm', '-f', 'oomer']);
  });

  test('a live stream shows new events and ends at until; bad input is a 400', async () => {
    const since = nowSecs();
    const until = (Date.now() / 1000 + 4).toFixed(3);
    const stream = d.docker(['events', '--since', since, '--until', until, '--filter', 'type=network', '--filter', 'type=image', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    await ok(['network', 'create', 'evnet']);
    await ok(['tag', 'busybox', 'evtag:1']);
    await ok(['rmi', 'evtag:1']);
    await ok(['network', 'rm', 'evnet']);
    const r = await stream;
    assert.equal(r.code, 0, r.stderr);
    const img = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    assert.equal(r.stdout, `network create evnet\nimage tag evtag:1\nimage untag ${img}\nnetwork destroy evnet\n`);
    assert.ok(Date.now() / 1000 >= Number(until) - 0.05, 'the stream lasted until `until`');

    const bad = await get('/events?since=yesterday');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /invalid value for "since"/);
    // A duration is the CLI's to convert; the daemon answers it with an error, not a stream.
    const duration = await get('/events?since=30s');
    assert.equal(duration.status, 400);
    assert.match(JSON.parse(duration.body).message, /parsing "30s": invalid syntax/);
    const reversed = await get(`/events?since=${Number(since) + 10}&until=${since}`);
    assert.equal(reversed.status, 400);
    assert.match(JSON.parse(reversed.body).message, /cannot be after `until`/);
  });

  test("/info's SystemTime bounds the events around it, to the nanosecond (moby's TestEventsVolumeCreate)", async () => {
    // moby's integration suite takes since and until from SystemTime around a request, within a
    // millisecond of it: a SystemTime cut to milliseconds left most such events out.
    const systemTimeNs = async (): Promise<bigint> => {
      const t = JSON.parse((await get('/info')).body).SystemTime as string;
      const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(t);
      assert.ok(m, t);
      return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
    };
    const secs = (ns: bigint) => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
    for (let i = 0; i < 20; i++) {
      const since = await systemTimeNs();
      const name = `sysvol${i}`;
      assert.equal((await socketRequest(d.socket, 'POST', '/volumes/create', { body: { Name: name } })).status, 201);
      const until = await systemTimeNs();
      const filters = encodeURIComponent(JSON.stringify({ type: { volume: true }, volume: { [name]: true } }));
      const r = await get(`/events?since=${secs(since)}&until=${secs(until)}&filters=${filters}`);
      const events = r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; timeNano: number });
      assert.deepEqual(events.map((e) => e.Action), ['create'], `round ${i}: ${secs(since)}..${secs(until)}: ${r.body}`);
      await socketRequest(d.socket, 'DELETE', `/volumes/${name}`);
    }
  });
});

describe('stats', () => {
  test('docker stats --no-stream and wharf --format json: memory limit, pids, busy CPU', async () => {
    const id = (await ok(['run', '-d', '--name', 'busy', '-m', '32m', 'busybox', 'sh', '-c', 'sleep 1000 & sleep 1000 & while :; do :; done'])).trim();
    const cpu = await waitFor(
      async () => {
        const out = (await ok(['stats', '--no-stream', '--format', 'json', 'busy'])).trim();
        const row = JSON.parse(out);
        return parseFloat(row.CPUPerc) > 0 ? row : undefined;
      },
      { timeoutMs: 30_000, what: 'CPU % above 0', intervalMs: 200 },
    );
    assert.equal(cpu.Name, 'busy');
    assert.equal(cpu.ID, id.slice(0, 12));
    assert.equal(cpu.Container, 'busy');
    assert.match(cpu.MemUsage, / \/ 32MiB$/);
    assert.equal(cpu.PIDs, '3');
    assert.match(cpu.NetIO, /^\d+(\.\d+)?[kM]?B \/ \d+(\.\d+)?[kM]?B$/);

    const table = await ok(['stats', '--no-stream'], 'docker');
    const [header, row] = table.trim().split('\n');
    assert.match(header!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    assert.match(row!, new RegExp(`^${id.slice(0, 12)}\\s+busy\\s+\\d+\\.\\d\\d%\\s+\\S+ / 32MiB\\s+\\d+\\.\\d\\d%\\s+.+\\s+3$`));

    // The raw API: one-shot answers at once; stream=false carries a previous sample.
    const one = await get(`/containers/busy/stats?stream=0&one-shot=1`);
    const s1 = JSON.parse(one.body);
    assert.equal(s1.preread, '0001-01-01T00:00:00Z');
    assert.equal(s1.memory_stats.limit, 32 * 1024 * 1024);
    assert.equal(s1.pids_stats.current, 3);
    assert.ok(s1.cpu_stats.cpu_usage.total_usage > 0);
    assert.ok(s1.cpu_stats.system_cpu_usage > 0);
    assert.ok(s1.networks.eth0.rx_packets >= 0);
    assert.equal(s1.name, '/busy');
    // moby's blkio lists: on cgroup v1 all eight are lists, empty or not; v2 has only the bytes.
    const v2 = (await statfs('/sys/fs/cgroup')).type === 0x63677270;
    const blkio = s1.blkio_stats as Record<string, unknown>;
    const lists = ['io_service_bytes_recursive', 'io_serviced_recursive', 'io_queue_recursive', 'io_service_time_recursive', 'io_wait_time_recursive', 'io_merged_recursive', 'io_time_recursive', 'sectors_recursive'];
    assert.deepEqual(lists.map((k) => Array.isArray(blkio[k])), v2 ? lists.map((k) => k === 'io_service_bytes_recursive' && Array.isArray(blkio[k])) : lists.map(() => true));
    const two = JSON.parse((await get(`/containers/busy/stats?stream=0`)).body);
    assert.notEqual(two.preread, '0001-01-01T00:00:00Z');
    assert.ok(two.cpu_stats.cpu_usage.total_usage > two.precpu_stats.cpu_usage.total_usage);
    assert.equal((await get('/containers/busy/stats?stream=1&one-shot=1')).status, 400);
    assert.equal((await get('/containers/nope/stats?stream=0')).status, 404);
    await ok(['rm', '-f', 'busy']);
  });

  test('a stopped container gives a zeroed sample; -a lists it', async () => {
    await ok(['create', '--name', 'idle', 'busybox', 'true']);
    const r = await get('/containers/idle/stats?stream=0');
    const s = JSON.parse(r.body);
    assert.equal(s.read, '0001-01-01T00:00:00Z');
    assert.equal(s.name, '/idle');
    assert.deepEqual(s.memory_stats, {});
    assert.deepEqual(s.pids_stats, {});
    assert.equal(s.blkio_stats.io_service_bytes_recursive, null);
    const rows = (await ok(['stats', '-a', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}'])).trim();
    assert.equal(rows, 'idle 0.00% 0B / 0B 0');
    assert.equal((await ok(['stats', '--no-stream', '--format', '{{.Name}}'])).trim(), '');
    await ok(['rm', 'idle']);
    const leaks = await countLeaks(d);
    assert.equal(leaks.conmon, 0);
  });
});
