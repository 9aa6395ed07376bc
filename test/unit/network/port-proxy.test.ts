/** The daemon's UDP port proxy over real sockets on 127.0.0.1. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { proxyUdp } from '../../../src/network/port-proxy.js';

const bound = (s: Socket) => new Promise<number>((r) => s.bind(0, '127.0.0.1', () => r(s.address().port)));

it("relays back only the container's datagrams, not one that another sender aims at the flow's socket", async () => {
  // The container's service answers, but first a forger (another container that learned the
  // flow's port) sends to the same socket: the client outside must get the service's answer.
  const service = createSocket('udp4');
  const forger = createSocket('udp4');
  const published = createSocket('udp4');
  const client = createSocket('udp4');
  service.on('message', (msg, r) => forger.send('forged', r.port, '127.0.0.1', () => service.send(`real ${msg}`, r.port, '127.0.0.1')));
  const target = { ip: '127.0.0.1', port: await bound(service) };
  await bound(forger);
  const publishedPort = await bound(published);
  const stop = proxyUdp(published, target);
  try {
    const first = new Promise<string>((r) => client.once('message', (b) => r(b.toString())));
    client.send('hello', publishedPort, '127.0.0.1');
    assert.equal(await first, 'real hello');
  } finally {
    stop();
    for (const s of [service, forger, published, client]) s.close();
  }
});
