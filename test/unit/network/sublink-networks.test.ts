/**
 * The options of macvlan and ipvlan networks as libnetwork's drivers check them at create: modes
 * and flags, the loopback parent, the dummy parent's name, and the rules for networks that share
 * a parent (passthru alone on its parent; one ipvlan network per parent).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sublinkConfig } from '../../../src/network/sublink-networks.js';
import type { NetworkRecord } from '../../../src/network/types.js';

const ID = 'a'.repeat(12) + 'b'.repeat(52);
const OTHER = 'c'.repeat(64);

function network(driver: string, parent: string, mode: string): NetworkRecord {
  return { Id: OTHER, Name: 'other', Driver: driver, sublink: { parent, mode, created: false, noParent: false } } as unknown as NetworkRecord;
}

describe('sublinkConfig', () => {
  it('takes the drivers’ defaults and names the dummy parent after the network', () => {
    assert.deepEqual(sublinkConfig('macvlan', ID, {}, []), { parent: 'dm-aaaaaaaaaaaa', mode: 'bridge', created: false, noParent: true });
    assert.deepEqual(sublinkConfig('ipvlan', ID, { parent: 'eth0' }, []), { parent: 'eth0', mode: 'l2', flag: 'bridge', created: false, noParent: false });
    assert.deepEqual(sublinkConfig('ipvlan', ID, { ipvlan_mode: 'l3s', ipvlan_flag: 'vepa' }, []), {
      parent: 'di-aaaaaaaaaaaa',
      mode: 'l3s',
      flag: 'vepa',
      created: false,
      noParent: true,
    });
  });

  it("refuses modes, flags and the loopback parent with libnetwork's words", () => {
    assert.throws(() => sublinkConfig('macvlan', ID, { macvlan_mode: 'l2' }, []), /: requested macvlan mode 'l2' is not valid, 'bridge' mode is the macvlan driver default$/);
    assert.throws(() => sublinkConfig('ipvlan', ID, { ipvlan_mode: 'bridge' }, []), /requested ipvlan mode 'bridge' is not valid, 'l2' mode is the ipvlan driver default/);
    assert.throws(() => sublinkConfig('ipvlan', ID, { ipvlan_flag: 'l2' }, []), /requested ipvlan flag 'l2' is not valid, 'bridge' is the ipvlan driver default/);
    assert.throws(() => sublinkConfig('ipvlan', ID, { parent: 'lo' }, []), /loopback interface is not a valid ipvlan parent link/);
  });

  it('lets macvlan networks share a parent unless one of them is passthru', () => {
    assert.equal(sublinkConfig('macvlan', ID, { parent: 'eth0', macvlan_mode: 'vepa' }, [network('macvlan', 'eth0', 'bridge')]).mode, 'vepa');
    assert.throws(
      () => sublinkConfig('macvlan', ID, { parent: 'eth0', macvlan_mode: 'passthru' }, [network('macvlan', 'eth0', 'bridge')]),
      new RegExp(`cannot use mode passthru, macvlan network ${OTHER} is already using parent interface eth0`),
    );
    assert.throws(
      () => sublinkConfig('macvlan', ID, { parent: 'eth0' }, [network('macvlan', 'eth0', 'passthru')]),
      new RegExp(`macvlan network ${OTHER} is already using parent interface eth0 in mode passthru`),
    );
    // Another driver's network on the parent is the kernel's business (at the first endpoint), not the driver's.
    assert.equal(sublinkConfig('macvlan', ID, { parent: 'eth0', macvlan_mode: 'passthru' }, [network('ipvlan', 'eth0', 'l2')]).parent, 'eth0');
  });

  it('gives an ipvlan parent to one network alone, naming the other by its dummy name', () => {
    assert.throws(() => sublinkConfig('ipvlan', ID, { parent: 'eth0' }, [network('ipvlan', 'eth0', 'l3')]), /network di-cccccccccccc is already using parent interface eth0/);
    assert.equal(sublinkConfig('ipvlan', ID, { parent: 'eth1' }, [network('ipvlan', 'eth0', 'l3')]).parent, 'eth1');
  });
});
