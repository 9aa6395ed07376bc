/**
 * The embedded DNS server on 127.0.0.1, over real UDP and TCP sockets: the size limit of a UDP
 * answer, the whole answer over TCP, and `name.network` matched in the network name's own case.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { EmbeddedDns } from '../../../src/network/dns-server.js';
import { buildQuery, parseResponse, TYPE_A } from '../../../src/network/dns-message.js';

const udpQuery = (port: number, msg: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => (s.close(), reject(new Error('no UDP answer'))), 3000);
    s.on('message', (b) => (clearTimeout(timer), s.close(), resolve(b)));
    s.send(msg, port, '127.0.0.1');
  });

const tcpQuery = (port: number, msg: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    c.on('error', reject);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    c.write(Buffer.concat([len, msg]));
  });

describe('embedded DNS server', () => {
  const dns = new EmbeddedDns({ upstreams: [] });
  let port = 0;

  before(async () => {
    port = await dns.listen('net1', '127.0.0.1', 0, 'MyNet');
    // 60 containers behind one alias: 60 A records do not fit 512 bytes.
    for (let i = 0; i < 60; i++) dns.setEndpoint('net1', `c${i}`, { ip: (10 << 24) + 100 + i, names: [`c${i}`, 'pool'] });
    dns.setEndpoint('net1', 'web', { ip: (10 << 24) + 5, names: ['Web'] });
  });

  after(() => dns.closeAll());

  it('cuts a UDP answer at 512 bytes with TC set, and gives it whole over TCP', async () => {
    const q = buildQuery(1, 'pool', TYPE_A);
    const udp = await udpQuery(port, q);
    assert.ok(udp.length <= 512, String(udp.length));
    assert.equal(udp.readUInt16BE(2) & 0x0200, 0x0200);
    const tcp = await tcpQuery(port, q);
    assert.equal(tcp.readUInt16BE(2) & 0x0200, 0);
    assert.equal(parseResponse(tcp).addresses.length, 60);
  });

  it('answers name.network for the network name in its own case only, the name in any case', async () => {
    const a = parseResponse(await udpQuery(port, buildQuery(2, 'WEB.MyNet', TYPE_A)));
    assert.deepEqual(a.addresses, ['10.0.0.5']);
    const other = parseResponse(await udpQuery(port, buildQuery(3, 'web.mynet', TYPE_A)));
    assert.deepEqual(other.addresses, []);
  });
});
