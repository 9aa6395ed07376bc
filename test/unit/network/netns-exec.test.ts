import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CommandError } from '../../../src/lib/run.js';
import { scratchNetns } from './scratch-netns.js';
import { useSpawnHelper } from '../../../src/lib/spawner.js';
import { ipBatch, runInNetns, writeSysctlInNetns } from '../../../src/network/exec.js';

assert.ok(useSpawnHelper(), 'the spawn helper is built (scripts/bundle-daemon.mjs)');

const ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';

test('tools and sysctls inside a network namespace, through the spawn helper', async (t) => {
  const ns = await scratchNetns(t, 'wharf-netns-exec-');
  // A new namespace has its loopback only, down; the host has more.
  const links = (await runInNetns(ns, 'ip', ['-o', 'link', 'show'])).trim().split('\n');
  assert.equal(links.length, 1, links.join('\n'));
  assert.match(links[0]!, /^1: lo: .*state DOWN/);
  await ipBatch(['link set lo up', 'addr add 10.99.0.1/32 dev lo'], { netns: ns });
  assert.match(await runInNetns(ns, 'ip', ['-o', 'addr', 'show', 'dev', 'lo']), /inet 10\.99\.0\.1\/32/);
  // stdin reaches a tool in the namespace.
  assert.equal(await runInNetns(ns, 'cat', [], 'through stdin'), 'through stdin');

  const hostValue = readFileSync(ROUTE_LOCALNET, 'utf8');
  const flipped = hostValue.trim() === '1' ? '0' : '1';
  await writeSysctlInNetns(ns, ROUTE_LOCALNET, flipped);
  assert.equal((await runInNetns(ns, 'cat', [ROUTE_LOCALNET])).trim(), flipped, 'written in the namespace');
  assert.equal(readFileSync(ROUTE_LOCALNET, 'utf8'), hostValue, 'the host’s own value is untouched');

  await writeSysctlInNetns(ns, '/proc/sys/net/ipv6/conf/nosuch0/disable_ipv6', '1', { ifPresent: true });
  const missing = await writeSysctlInNetns(ns, '/proc/sys/net/ipv6/conf/nosuch0/disable_ipv6', '1').catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.equal(missing.message, 'echo 1 > /proc/sys/net/ipv6/conf/nosuch0/disable_ipv6: No such file or directory');

  const noTool = await runInNetns(ns, '/nonexistent/ip', []).catch((e: unknown) => e);
  assert.ok(noTool instanceof CommandError);
  assert.equal(noTool.message, '/nonexistent/ip: /nonexistent/ip is not installed');
  const noNs = await runInNetns(join(dirname(ns), 'gone'), 'ip', ['link']).catch((e: unknown) => e);
  assert.ok(noNs instanceof CommandError);
  assert.equal(noNs.code, null, 'not started');
});
