/**
 * Wharf beside a Docker engine on the same host (issue 4, compatibility). No Docker engine is
 * needed: the test lays down the footprint dockerd 20.10 leaves (a `docker0` bridge, UP, with the
 * gateway of the first free default pool, 172.17.0.1/16 normally; the DOCKER, DOCKER-USER and
 * DOCKER-ISOLATION-STAGE-1/2 chains and their jumps in filter and nat; the MASQUERADE of its subnet;
 * FORWARD's policy set to DROP), then runs wharfd with its default address pools and checks that it
 * picks another subnet, serves published ports through Docker's DROP policy, never touches a Docker
 * rule, and that after rm, daemon shutdown and uninstall every Docker rule, chain and the bridge
 * are exactly as before while none of Wharf's remain. The footprint is removed in `after`, also
 * when a step fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { chainPrefixForBridge } from '../../src/network/iptables.js';
import { DEFAULT_ADDRESS_POOLS, hostRoutes, pickSubnet } from '../../src/network/ipam.js';
import { formatCidr, formatIp, overlaps, parseCidr } from '../../src/network/ipv4.js';
import { freePort, httpGet, loadBusybox, runCommand, startDaemon, waitFor, type Daemon } from './harness.js';

const DOCKER_BRIDGE = 'docker0';
// DOCKER-USER is not among them: it is the operator's, shared by every engine on the host (wharfd
// makes it too, and other tests' daemons move FORWARD's jump to it), so the footprint only makes
// sure it exists and never removes it.
const DOCKER_CHAINS = { filter: ['DOCKER', 'DOCKER-ISOLATION-STAGE-1', 'DOCKER-ISOLATION-STAGE-2'], nat: ['DOCKER'] };
const USER_JUMP = '-A FORWARD -j DOCKER-USER';
const HTTPD = 'mkdir -p /www && echo hello-beside-docker > /www/index.html && exec httpd -f -p 80 -h /www';

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runCommand(cmd, args, { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The rules dockerd 20.10 adds at start (iptables-save form) for a docker0 on `subnet`. */
function dockerRules(subnet: string): string {
  return [
    '*filter',
    ...DOCKER_CHAINS.filter.map((c) => `:${c} - [0:0]`),
    '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
    '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A FORWARD -o docker0 -j DOCKER',
    '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
    '-A FORWARD -i docker0 -o docker0 -j ACCEPT',
    '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
    '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
    '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
    '-A DOCKER-ISOLATION-STAGE-2 -j RETURN',
    'COMMIT',
    '*nat',
    ':DOCKER - [0:0]',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
    `-A POSTROUTING -s ${subnet} ! -o docker0 -j MASQUERADE`,
    '-A DOCKER -i docker0 -j RETURN',
    'COMMIT',
    '',
  ].join('\n');
}

/** `iptables-save` lines per table, counters stripped. */
async function saveLines(): Promise<Array<{ table: string; line: string }>> {
  const out: Array<{ table: string; line: string }> = [];
  let table = '';
  for (const raw of (await sh('iptables-save', [])).split('\n')) {
    if (raw.startsWith('*')) table = raw.slice(1);
    else if (raw.startsWith(':') || raw.startsWith('-A')) out.push({ table, line: raw.replace(/ \[\d+:\d+\]$/, '') });
  }
  return out;
}

/**
 * Everything of Docker's: its chains, rules and jumps (in order, per table), FORWARD's policy, and
 * docker0. Of DOCKER-USER, only that FORWARD jumps to it (its place and rules are shared).
 */
async function dockerState(): Promise<{ rules: string[]; forwardPolicy: string; bridge: string; userJump: boolean }> {
  const lines = await saveLines();
  const rules = lines.filter((l) => /DOCKER|docker0/.test(l.line) && !l.line.includes('DOCKER-USER')).map((l) => `${l.table} ${l.line}`);
  const userJump = lines.some((l) => l.table === 'filter' && l.line === USER_JUMP);
  const forwardPolicy = lines.find((l) => l.table === 'filter' && l.line.startsWith(':FORWARD '))?.line ?? '';
  const link = await runCommand('ip', ['-o', 'addr', 'show', 'dev', DOCKER_BRIDGE]);
  const flags = await runCommand('ip', ['-o', 'link', 'show', 'dev', DOCKER_BRIDGE]);
  const bridge = `${flags.stdout.replace(/^\d+: /, '').split(' qdisc')[0]} | ${link.stdout.split('\n').filter((l) => l.includes(' inet ')).map((l) => l.split(/\s+/).slice(1, 4).join(' ')).join(',')}`;
  return { rules, forwardPolicy, bridge, userJump };
}

/** Everything of one wharfd's: rules in its chains or naming its bridges, and its bridges. */
async function wharfState(prefix: string, bridges: string[]): Promise<{ rules: string[]; links: string[] }> {
  const lines = await saveLines();
  const rules = lines.filter((l) => l.line.includes(prefix) || bridges.some((b) => l.line.includes(b))).map((l) => `${l.table} ${l.line}`);
  return { rules, links: bridges.filter((b) => existsSync(`/sys/class/net/${b}`)) };
}

/**
 * While the fake footprint is laid, the FORWARD policy it replaced is also kept in this file, so a
 * run that was killed outright (SIGKILL, power loss) is repaired by the next run before it starts.
 */
const FOOTPRINT_STATE = '/run/wharf-test-docker-coexist.json';
let previousForwardPolicy = 'ACCEPT';
let footprint = false;

function forwardPolicy(): string | undefined {
  const save = execFileSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' });
  return /^:FORWARD (\S+)/m.exec(save)?.[1];
}

async function layDockerFootprint(subnet: string, gateway: string): Promise<void> {
  previousForwardPolicy = forwardPolicy() ?? 'ACCEPT';
  writeFileSync(FOOTPRINT_STATE, JSON.stringify({ previousForwardPolicy }));
  footprint = true;
  await sh('ip', ['link', 'add', 'name', DOCKER_BRIDGE, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${gateway}/${subnet.split('/')[1]}`, 'dev', DOCKER_BRIDGE]);
  await sh('ip', ['link', 'set', DOCKER_BRIDGE, 'up']);
  await sh('iptables-restore', ['--noflush'], dockerRules(subnet));
  // dockerd's DOCKER-USER and FORWARD's jump to it first, where they are not already.
  await runCommand('iptables', ['-w', '-N', 'DOCKER-USER']);
  if ((await runCommand('iptables', ['-w', '-C', 'FORWARD', '-j', 'DOCKER-USER'])).code !== 0) await sh('iptables', ['-w', '-I', 'FORWARD', '1', '-j', 'DOCKER-USER']);
  await sh('iptables', ['-w', '-P', 'FORWARD', 'DROP']);
}

/**
 * Removes the fake footprint whatever state it is in (rules first, then chains, bridge, policy).
 * Synchronous, so that it also runs from a signal handler or on exit.
 */
function removeDockerFootprint(): void {
  if (!footprint) return;
  const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
  const save = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  let table = '';
  const lines: Array<{ table: string; line: string }> = [];
  for (const raw of save.split('\n')) {
    if (raw.startsWith('*')) table = raw.slice(1);
    else if (raw.startsWith('-A ')) lines.push({ table, line: raw });
  }
  for (const { table: t, line } of lines.reverse()) {
    if (!/DOCKER|docker0/.test(line) || line.includes('DOCKER-USER')) continue;
    if (line.split(' ')[1]!.startsWith('DOCKER')) continue; // flushed below
    quiet('iptables', ['-w', '-t', t, '-D', ...line.slice(3).split(' ')]);
  }
  for (const [t, chains] of Object.entries(DOCKER_CHAINS)) {
    for (const c of chains) quiet('iptables', ['-w', '-t', t, '-F', c]);
    for (const c of chains) quiet('iptables', ['-w', '-t', t, '-X', c]);
  }
  quiet('ip', ['link', 'del', DOCKER_BRIDGE]);
  const restored = quiet('iptables', ['-w', '-P', 'FORWARD', previousForwardPolicy]).status === 0;
  if (restored) rmSync(FOOTPRINT_STATE, { force: true });
  footprint = false;
}

// An interrupted run (a timeout's SIGTERM, Ctrl-C) must not leave the host's FORWARD policy at DROP.
// The footprint goes at once; the harness's own handler then cleans the daemon up and exits.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, removeDockerFootprint);
process.on('exit', removeDockerFootprint);

/** A previous run killed outright left its footprint and the policy it replaced: put them back. */
function repairKilledRun(): void {
  if (!existsSync(FOOTPRINT_STATE)) return;
  const state = JSON.parse(readFileSync(FOOTPRINT_STATE, 'utf8')) as { previousForwardPolicy?: string };
  previousForwardPolicy = state.previousForwardPolicy === 'DROP' ? 'DROP' : 'ACCEPT';
  footprint = true;
  removeDockerFootprint();
}

repairKilledRun();
// A real Docker engine (or a leftover) on this host: do not touch its footprint.
const dockerPresent = existsSync(`/sys/class/net/${DOCKER_BRIDGE}`);

let d: Daemon | undefined;
let dockerSubnet = '';
let before0: Awaited<ReturnType<typeof dockerState>>;

before(async () => {
  if (dockerPresent) return;
  // dockerd takes the first default pool that is free on the host: 172.17.0.0/16 unless taken.
  const free = pickSubnet(DEFAULT_ADDRESS_POOLS, (await hostRoutes()).map((r) => r.cidr));
  assert.ok(free, 'a free default pool for the fake docker0');
  dockerSubnet = formatCidr(free);
  await layDockerFootprint(dockerSubnet, formatIp((free.base + 1) >>> 0));
  before0 = await dockerState();
});

after(async () => {
  try {
    await d?.cleanup();
  } finally {
    removeDockerFootprint();
  }
});

describe('wharfd beside a Docker engine', { skip: dockerPresent ? `${DOCKER_BRIDGE} exists: a Docker engine is on this host` : false }, () => {
  let prefix = '';
  let bridges: string[] = [];

  test('the fake footprint is what dockerd lays down', () => {
    assert.equal(before0.forwardPolicy, ':FORWARD DROP');
    assert.ok(before0.rules.includes(`nat -A POSTROUTING -s ${dockerSubnet} ! -o docker0 -j MASQUERADE`), before0.rules.join('\n'));
    assert.ok(before0.userJump, 'FORWARD jumps to DOCKER-USER');
    assert.match(before0.bridge, /^docker0: <[^>]*\bUP\b[^>]*> mtu 1500 .*\| docker0 inet 172\.\d+\.0\.1\/16$/);
  });

  test('wharfd with the default pools picks a subnet Docker does not use, and leaves Docker rules alone', async () => {
    d = await startDaemon({ defaultPools: true });
    const bridge = (JSON.parse(await readFile(d.configFile, 'utf8')) as { bridge: string }).bridge;
    prefix = chainPrefixForBridge(bridge);
    bridges = [bridge];
    const r = await d.wharf(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'bridge']);
    assert.equal(r.code, 0, r.stderr);
    const ours = parseCidr(r.stdout.trim());
    assert.ok(ours, r.stdout);
    assert.ok(!overlaps(ours.cidr, parseCidr(dockerSubnet)!.cidr), `wharf bridge ${r.stdout.trim()} overlaps docker0 ${dockerSubnet}`);
    assert.notEqual(r.stdout.trim(), '172.17.0.0/16');
    assert.deepEqual(await dockerState(), before0);
    assert.ok((await wharfState(prefix, bridges)).rules.length > 0, 'wharfd installed its own chains');
  });

  test('containers with published ports serve through Docker DROP policy; Docker rules untouched while they run', async () => {
    const dd = d!;
    await loadBusybox(dd);
    const net = `co${randomBytes(3).toString('hex')}`;
    const created = await dd.docker(['network', 'create', net]);
    assert.equal(created.code, 0, created.stderr);
    const subnet = (await dd.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', net])).stdout.trim();
    assert.ok(!overlaps(parseCidr(subnet)!.cidr, parseCidr(dockerSubnet)!.cidr), `user network ${subnet} overlaps docker0`);
    bridges.push(`wh-${created.stdout.trim().slice(0, 12)}`);

    const [p1, p2] = [await freePort(), await freePort()];
    const a = await dd.docker(['run', '-d', '--name', 'cw1', '-p', `${p1}:80`, 'busybox', 'sh', '-c', HTTPD]);
    assert.equal(a.code, 0, a.stderr);
    const b = await dd.docker(['run', '-d', '--name', 'cw2', '--network', net, '-p', `127.0.0.1:${p2}:80`, 'busybox', 'sh', '-c', HTTPD]);
    assert.equal(b.code, 0, b.stderr);
    for (const p of [p1, p2]) {
      await waitFor(async () => (await httpGet(p).then((r) => r.body, () => '')) === 'hello-beside-docker\n', { timeoutMs: 20_000, what: `port ${p}` });
    }
    // Container to container through the host's address: routed (FORWARD) traffic, past Docker's DROP policy.
    // (sh runs timeout: a signal from inside the container cannot end its pid 1.)
    const gw = (await dd.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])).stdout.trim();
    const via = await dd.docker(['run', '--rm', 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${gw}:${p1}/`]);
    assert.equal(via.stdout, 'hello-beside-docker\n', via.stderr);
    const running = await wharfState(prefix, bridges);
    assert.ok(running.rules.some((l) => l.includes(`--dport ${p1} `)), running.rules.join('\n'));
    assert.deepEqual(await dockerState(), before0);

    assert.equal((await dd.docker(['rm', '-f', 'cw1', 'cw2'])).code, 0);
    assert.equal((await dd.docker(['network', 'rm', net])).code, 0);
    const removed = await wharfState(prefix, bridges);
    assert.ok(!removed.rules.some((l) => l.includes('-j DNAT')), `no port rule left after rm:\n${removed.rules.join('\n')}`);
    assert.deepEqual(removed.links, [bridges[0]], 'the user network bridge is gone');
  });

  test('after daemon shutdown and uninstall: Docker exactly as before, nothing of Wharf left', async () => {
    const dd = d!;
    await dd.stop();
    assert.deepEqual(await dockerState(), before0, 'shutdown leaves Docker alone');
    await dd.cleanup(); // the harness's uninstall: bridges and chains of this daemon
    d = undefined;
    assert.deepEqual(await dockerState(), before0, 'uninstall leaves Docker alone');
    assert.deepEqual(await wharfState(prefix, bridges), { rules: [], links: [] });
  });
});
