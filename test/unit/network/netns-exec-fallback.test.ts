import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CommandError } from '../../../src/lib/run.js';
import { scratchNetns } from './scratch-netns.js';
import { runInNetns, writeSysctlInNetns } from '../../../src/network/exec.js';

// No useSpawnHelper() here: the paths a process without the built helper takes (nsenter, util-linux).

test('without the spawn helper: tools and sysctls in a namespace go through nsenter, the netns file through unshare', async (t) => {
  const ns = await scratchNetns(t, 'wharf-netns-fallback-');
  const links = (await runInNetns(ns, 'ip', ['-o', 'link', 'show'])).trim().split('\n');
  assert.equal(links.length, 1, links.join('\n'));
  assert.match(links[0]!, /^1: lo: /);
  assert.equal(await runInNetns(ns, 'cat', [], 'through stdin'), 'through stdin');
  const path = '/proc/sys/net/ipv4/conf/all/route_localnet';
  const hostValue = readFileSync(path, 'utf8');
  const flipped = hostValue.trim() === '1' ? '0' : '1';
  await writeSysctlInNetns(ns, path, flipped);
  assert.equal((await runInNetns(ns, 'cat', [path])).trim(), flipped);
  assert.equal(readFileSync(path, 'utf8'), hostValue);
  await writeSysctlInNetns(ns, '/proc/sys/net/ipv6/conf/nosuch0/disable_ipv6', '1', { ifPresent: true });
  const missing = await writeSysctlInNetns(ns, '/proc/sys/net/ipv6/conf/nosuch0/disable_ipv6', '1').catch((e: unknown) => e);
  assert.ok(missing instanceof CommandError);
  assert.match(missing.message, /nosuch0\/disable_ipv6/);
});
