/** The daemon's UDP port proxy over real sockets on 127.0.0.1. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type AddressInfo, type Socket as TcpSocket } from 'node:net';
import { MAX_PROXIED, proxyTcp, proxyUdp } from '../../../src/network/port-proxy.js';

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

it('counts a proxied connection until both its sides are closed: clients that never close cannot hold more than the cap', async () => {
  // The container's service closes each connection at once; its clients never close theirs. The
  // daemon's side towards each client stays open (half-closed) for as long as the client keeps it,
  // and was no longer counted once the container's side had closed.
  let accepted = 0;
  const service = createServer((c) => {
    accepted++;
    c.end();
  });
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
  const published = createServer();
  const stop = proxyTcp(published, { ip: '127.0.0.1', port: (service.address() as AddressInfo).port });
  await new Promise<void>((r) => published.listen(0, '127.0.0.1', () => r()));
  const port = (published.address() as AddressInfo).port;
  const clients: TcpSocket[] = [];
  const open = () => {
    const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true }).on('error', () => {});
    clients.push(c);
    c.resume();
    return new Promise((r) => c.once('end', r).once('close', r));
  };
  try {
    for (let i = 0; i < MAX_PROXIED + 100; i += 100) await Promise.all(Array.from({ length: 100 }, open));
    assert.ok(accepted <= MAX_PROXIED, `${accepted} connections relayed while ${MAX_PROXIED} half-closed ones were held`);
  } finally {
    for (const c of clients) c.destroy();
    stop();
    published.close();
    service.close();
  }
});
