/**
 * The container core under a storm of lifecycle requests on a few names, with the daemon killed
 * (-9) in the middle of it and restarted, several times: every answer is one Docker gives (no
 * 500 but the runtime's own races that Docker's engine answers with 500 too), after each restore
 * every record agrees with what runc says of its container, and at the end nothing is left
 * behind, on the host or on the user network the requests connect to and disconnect from. The
 * sequence of requests comes from a seeded generator (WHARF_STRESS_SEED); where they land in
 * time does not, which is the point.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { prng } from '../lib/prng.js';
import { countLeaks, loadBusybox, runCommand, socketRequest, startDaemon, waitFor, type Daemon } from './harness.js';

let d: Daemon;

before(async () => {
  d = await startDaemon();
  await loadBusybox(d);
  assert.equal((await socketRequest(d.socket, 'POST', '/networks/create', { body: { Name: 'stressnet' } })).status, 201);
});
after(async () => {
  await d?.cleanup();
});

interface Answer {
  status: number;
  body: string;
}

const NAMES = ['st0', 'st1', 'st2', 'st3'];

/**
 * 500s Docker's engine gives in the same races: the runtime refuses a pause or an update because
 * the process has just exited, or a resume because a kill or a commit has just resumed it.
 */
const RUNTIME_RACES = [
  /^cannot pause container \w+: container not running$/,
  /^Cannot update container \w+: container not running$/,
  /^Cannot unpause container \w+: container not paused$/,
  /^Container \w+ is not paused$/,
  // moby's plain error (500) for a disconnect from a network the container is not on.
  /^container \w+ is not connected to network stressnet$/,
];

function requests(api: (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<Answer>, random: () => number): Record<string, (name: string) => Promise<Answer>> {
  return {
    create: (n) => api('POST', `/containers/create?name=${n}`, {
      Image: 'busybox',
      // Exits on SIGTERM (stop and restart take the quick path), runs on otherwise.
      Cmd: ['sh', '-c', 'trap "exit 3" TERM; while true; do sleep 0.05; done'],
      HostConfig: { NetworkMode: random() < 0.5 ? 'none' : 'bridge', RestartPolicy: { Name: random() < 0.3 ? 'always' : 'no' } },
    }),
    start: (n) => api('POST', `/containers/${n}/start`),
    stop: (n) => api('POST', `/containers/${n}/stop?t=1`),
    kill: (n) => api('POST', `/containers/${n}/kill`),
    term: (n) => api('POST', `/containers/${n}/kill?signal=TERM`),
    restart: (n) => api('POST', `/containers/${n}/restart?t=1`),
    pause: (n) => api('POST', `/containers/${n}/pause`),
    unpause: (n) => api('POST', `/containers/${n}/unpause`),
    rm: (n) => api('DELETE', `/containers/${n}`),
    rmf: (n) => api('DELETE', `/containers/${n}?force=1`),
    exec: async (n) => {
      const r = await api('POST', `/containers/${n}/exec`, { Cmd: ['true'], AttachStdout: true });
      if (r.status !== 201) return r;
      return api('POST', `/exec/${(JSON.parse(r.body) as { Id: string }).Id}/start`, { Detach: false });
    },
    // Given up after 2 s (a container nothing stops), as a client with a deadline does.
    wait: (n) => api('POST', `/containers/${n}/wait?condition=not-running`, undefined, 2000),
    top: (n) => api('GET', `/containers/${n}/top`),
    update: (n) => api('POST', `/containers/${n}/update`, { RestartPolicy: { Name: random() < 0.5 ? 'always' : 'no' }, Memory: random() < 0.5 ? 64 << 20 : 0, MemorySwap: -1 }),
    commit: (n) => api('POST', `/commit?container=${n}&repo=stress&tag=${n}`),
    rename: async (n) => {
      const r = await api('POST', `/containers/${n}/rename?name=${n}-renamed`);
      if (r.status === 204) await api('POST', `/containers/${n}-renamed/rename?name=${n}`);
      return r;
    },
    logs: (n) => api('GET', `/containers/${n}/logs?stdout=1&tail=5`),
    stats: (n) => api('GET', `/containers/${n}/stats?stream=0`),
    archive: (n) => api('GET', `/containers/${n}/archive?path=/bin/sh`),
    changes: (n) => api('GET', `/containers/${n}/changes`),
    connect: (n) => api('POST', '/networks/stressnet/connect', { Container: n }),
    disconnect: (n) => api('POST', '/networks/stressnet/disconnect', { Container: n }),
  };
}

/** Requests from `workers` clients until `until` settles; the 500s (and other failures) that no race explains. */
async function storm(random: () => number, workers: number, until: Promise<unknown>): Promise<string[]> {
  let stop = false;
  const halt = () => void (stop = true);
  until.then(halt, halt);
  const unexplained: string[] = [];
  // A request cut by the daemon's death is no answer at all: only answers are judged.
  const api = (method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<Answer> =>
    socketRequest(d.socket, method, path, { body, timeoutMs }).catch(() => ({ status: 0, body: '' }));
  const ops = requests(api, random);
  const verbs = Object.keys(ops);
  const worker = async () => {
    while (!stop) {
      const verb = verbs[Math.floor(random() * verbs.length)]!;
      const name = NAMES[Math.floor(random() * NAMES.length)]!;
      const r = await ops[verb]!(name);
      if (r.status === 0) {
        // The daemon is down: wait for it rather than spin.
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
      if (r.status < 500) continue;
      const message = (JSON.parse(r.body || '{}') as { message?: string }).message ?? r.body;
      if (!RUNTIME_RACES.some((re) => re.test(message))) unexplained.push(`${verb} ${name}: ${r.status} ${message}`);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return unexplained;
}

/** Each container's record against runc: running, paused, or neither. */
async function disagreements(): Promise<string[]> {
  const r = await runCommand('runc', ['--root', join(d.execRoot, 'runc'), 'list', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const runc = new Map(((JSON.parse(r.stdout || 'null') as { id: string; status: string }[] | null) ?? []).map((c) => [c.id, c.status]));
  const list = JSON.parse((await socketRequest(d.socket, 'GET', '/containers/json?all=1')).body) as { Id: string }[];
  const bad: string[] = [];
  for (const { Id } of list) {
    const r = await socketRequest(d.socket, 'GET', `/containers/${Id}/json`);
    if (r.status !== 200) {
      bad.push(`${Id.slice(0, 12)}: listed, then inspect answered ${r.status} ${r.body.trim()}`);
      continue;
    }
    const s = (JSON.parse(r.body) as { State: { Running: boolean; Paused: boolean; Restarting: boolean; Status: string } }).State;
    const actual = runc.get(Id) ?? 'absent';
    const expected = s.Paused ? ['paused'] : s.Running && !s.Restarting ? ['running'] : ['stopped', 'absent'];
    if (!expected.includes(actual)) bad.push(`${Id.slice(0, 12)}: ${s.Status} (Running ${s.Running}, Paused ${s.Paused}, Restarting ${s.Restarting}), runc: ${actual}`);
  }
  return bad;
}

test('lifecycle requests racing each other and the daemon\'s kill -9: Docker\'s answers, records that match runc, nothing left', async () => {
  const seed = Number(process.env.WHARF_STRESS_SEED ?? 20261206);
  const random = prng(seed);
  for (let round = 0; round < 3; round++) {
    const killed = (async () => {
      await new Promise((res) => setTimeout(res, 3000 + random() * 3000));
      await d.kill9();
      await d.restart();
      // Some more requests on the restored daemon before this round's storm ends.
      await new Promise((res) => setTimeout(res, 2000));
    })();
    const unexplained = await storm(random, 6, killed);
    await killed;
    assert.deepEqual(unexplained, [], `seed ${seed}, round ${round}`);
    // A signal the storm sent (kill -s TERM answers at once) may still be ending a process: a
    // record and runc may differ for as long as that exit takes to handle, never for good.
    let last: string[] = [];
    await waitFor(async () => (last = await disagreements()).length === 0, { timeoutMs: 15_000, intervalMs: 100 }).catch(() => undefined);
    assert.deepEqual(last, [], `seed ${seed}, round ${round}: records against runc after the restore`);
  }
  const ids = (JSON.parse((await socketRequest(d.socket, 'GET', '/containers/json?all=1')).body) as { Id: string }[]).map((c) => c.Id);
  for (const id of ids) assert.equal((await socketRequest(d.socket, 'DELETE', `/containers/${id}?force=1`)).status, 204);
  const net = JSON.parse((await socketRequest(d.socket, 'GET', '/networks/stressnet')).body) as { Containers: Record<string, unknown> };
  assert.deepEqual(net.Containers, {}, 'endpoints left on the network');
  const leaks = await countLeaks(d);
  assert.deepEqual({ mounts: leaks.mounts, conmon: leaks.conmon, runc: leaks.runc, cgroups: leaks.cgroups }, { mounts: 0, conmon: 0, runc: 0, cgroups: 0 }, JSON.stringify(leaks.details));
});
