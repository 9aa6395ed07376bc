import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_NETWORK_TABLE,
  NETWORK_HEADERS,
  NetworkRow,
  consolidateIpam,
  goTimeFromRfc3339,
  naturalCompare,
  portLines,
} from '../../../src/cli/format/network-format.js';
import { renderRows } from '../../../src/cli/format/formatter.js';
import type { NetworkResource } from '../../../src/api/types.js';

function net(name: string, id: string, extra: Partial<NetworkResource> = {}): NetworkResource {
  return {
    Name: name,
    Id: id,
    Created: '2026-01-02T03:04:05.120000000Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
    ...extra,
  };
}

describe('network ls rows', () => {
  const a = net('bridge', 'a'.repeat(64));
  const b = net('mynet', 'b'.repeat(64), { Internal: true, Labels: { team: 'x' } });

  it('renders the default table with Docker headers and 12-char IDs', () => {
    const out = renderRows(DEFAULT_NETWORK_TABLE, [new NetworkRow(a, true), new NetworkRow(b, true)], NETWORK_HEADERS);
    assert.equal(
      out,
      'NETWORK ID     NAME      DRIVER    SCOPE\n' + `${'a'.repeat(12)}   bridge    bridge    local\n` + `${'b'.repeat(12)}   mynet     bridge    local\n`,
    );
  });

  it('--no-trunc, custom fields, labels and json', () => {
    assert.equal(renderRows('{{.ID}}', [new NetworkRow(b, false)], NETWORK_HEADERS), `${'b'.repeat(64)}\n`);
    assert.equal(renderRows('{{.Name}} {{.Internal}} {{.IPv6}} {{.Labels}} {{.Label "team"}}', [new NetworkRow(b, true)], NETWORK_HEADERS), 'mynet true false team=x x\n');
    const json = JSON.parse(renderRows('json', [new NetworkRow(b, true)], NETWORK_HEADERS));
    assert.equal(json.Name, 'mynet');
    assert.equal(json.ID, 'b'.repeat(12));
    assert.equal(json.Internal, 'true');
  });

  it('CreatedAt keeps fractional seconds as Go prints them', () => {
    assert.match(goTimeFromRfc3339('2026-01-02T03:04:05.120000000Z'), /^\d{4}-\d\d-\d\d \d\d:\d\d:05\.12 [+-]\d{4} \S+$/);
    assert.match(goTimeFromRfc3339('2026-01-02T03:04:05Z'), /^\d{4}-\d\d-\d\d \d\d:\d\d:05 [+-]\d{4} \S+$/);
  });

  it('natural name order', () => {
    assert.deepEqual(['net10', 'net2', 'bridge', 'host', 'net1'].sort(naturalCompare), ['bridge', 'host', 'net1', 'net2', 'net10']);
  });
});

describe('consolidateIpam', () => {
  it('pairs ranges and gateways with their subnet', () => {
    assert.deepEqual(consolidateIpam(['10.1.0.0/16', '10.2.0.0/24'], ['10.1.5.0/24'], ['10.2.0.254'], { h: '10.1.0.9' }), [
      { Subnet: '10.1.0.0/16', IPRange: '10.1.5.0/24', AuxiliaryAddresses: { h: '10.1.0.9' } },
      { Subnet: '10.2.0.0/24', Gateway: '10.2.0.254', AuxiliaryAddresses: {} },
    ]);
    assert.deepEqual(consolidateIpam([], [], [], {}), []);
  });

  it("Docker's errors", () => {
    assert.throws(() => consolidateIpam([], [], ['10.0.0.1'], {}), /every ip-range or gateway must have a corresponding subnet/);
    assert.throws(() => consolidateIpam(['10.0.0.0/8', '10.1.0.0/16'], [], [], {}), /multiple overlapping subnet configuration is not supported/);
    assert.throws(() => consolidateIpam(['10.0.0.0/24'], [], ['10.0.1.1'], {}), /no matching subnet for gateway 10\.0\.1\.1/);
    assert.throws(() => consolidateIpam(['10.0.0.0/24'], ['10.9.0.0/28'], [], {}), /no matching subnet for range 10\.9\.0\.0\/28/);
    assert.throws(() => consolidateIpam(['10.0.0.0/24'], [], [], { x: '10.5.0.1' }), /no matching subnet for aux-address 10\.5\.0\.1/);
  });
});

describe('port lines', () => {
  const ports = {
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '8080' },
      { HostIp: '::', HostPort: '8080' },
    ],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    '443/tcp': null,
  };

  it('all mappings, naturally sorted, IPv6 in brackets', () => {
    assert.deepEqual(portLines(ports, 'web'), ['53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080']);
  });

  it('one private port, tcp by default', () => {
    assert.deepEqual(portLines(ports, 'web', '80'), ['0.0.0.0:8080', '[::]:8080']);
    assert.deepEqual(portLines(ports, 'web', '53/udp'), ['127.0.0.1:5353']);
  });

  it("Docker's errors", () => {
    assert.throws(() => portLines(ports, 'web', '443'), { message: "Error: No public port '443' published for web" });
    assert.throws(() => portLines(ports, 'web', '53'), /No public port '53' published for web/);
    assert.throws(() => portLines(ports, 'web', 'http'), /Error: invalid port \(http\)/);
  });
});
