/**
 * The embedded DNS server on 127.0.0.1, over real UDP and TCP sockets: the size limit of a UDP
 * answer, the whole answer over TCP, `name.network` matched in the network name's own case, and a
 * TCP client that does not read its answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { EmbeddedDns } from '../../../src/network/dns-server.js';
import { buildQuery, buildResponse, parseQuery, parseResponse, TYPE_A, TYPE_AAAA } from '../../../src/network/dns-message.js';

const udpQuery = (port: number, msg: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => (s.close(), reject(new Error('no UDP answer'))), 3000);
    s.on('message', (b) => (clearTimeout(timer), s.close(), resolve(b)));
    s.send(msg, port, '127.0.0.1');
  });

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type UdpSocket = ReturnType<typeof createSocket>;

/** An upstream nameserver on 127.0.0.1 that holds every query it gets until the test answers it. */
async function holdingUpstream(): Promise<{ upstream: UdpSocket; held: Array<{ msg: Buffer; port: number }>; address: string }> {
  const upstream = createSocket('udp4');
  const held: Array<{ msg: Buffer; port: number }> = [];
  upstream.on('message', (msg, r) => held.push({ msg, port: r.port }));
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  return { upstream, held, address: `127.0.0.1:${upstream.address().port}` };
}

const clientOn = (n: number) =>
  new Promise<UdpSocket>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, `127.0.0.${n}`, () => resolve(s));
  });

/**
 * 1024 queries for an outside name from each client (what one address may have in flight) to the
 * listener `portOf` gives it, in steps that the sockets' receive buffers hold (UDP drops what does
 * not fit), each step waited for until every query of it is held upstream or answered.
 */
async function floodForwards(clients: UdpSocket[], portOf: (client: number) => number, held: unknown[], answered: () => number): Promise<void> {
  let sent = 0;
  for (const [c, s] of clients.entries()) {
    for (let i = 0; i < 1024; i += 32) {
      for (let k = i; k < i + 32; k++) s.send(buildQuery(k, 'elsewhere.example', TYPE_A), portOf(c), '127.0.0.1');
      sent += 32;
      await waitFor(() => held.length + answered() === sent, `${sent} queries to be forwarded or refused`);
    }
  }
}

const tcpQuery = (port: number, msg: Buffer, localAddress?: string) =>
  new Promise<Buffer>((resolve, reject) => {
    const c = connect({ port, host: '127.0.0.1', localAddress });
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
    dns.setEndpoint('net1', 'six', { ip6: 0xfd000009n << 96n | 2n, names: ['six'] });
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

  it("an IPv6-only endpoint's name: its AAAA record, an empty A answer (never relayed)", async () => {
    const aaaa = parseResponse(await udpQuery(port, buildQuery(4, 'six', TYPE_AAAA)));
    assert.deepEqual(aaaa.addresses, ['fd00:9::2']);
    const a = parseResponse(await udpQuery(port, buildQuery(5, 'six', TYPE_A)));
    assert.deepEqual([a.rcode, a.addresses], [0, []]);
  });

  it('answers name.network for the network name in its own case only, the name in any case', async () => {
    const a = parseResponse(await udpQuery(port, buildQuery(2, 'WEB.MyNet', TYPE_A)));
    assert.deepEqual(a.addresses, ['10.0.0.5']);
    const other = parseResponse(await udpQuery(port, buildQuery(3, 'web.mynet', TYPE_A)));
    assert.deepEqual(other.addresses, []);
  });

  it('stops reading a TCP client that leaves its answers unread, and answers every query once it reads', async () => {
    // More answers than the kernel's socket buffers hold (about 4 MB here): without back-pressure
    // the daemon would read every query and keep the answers in memory, as long as the client sent.
    const count = 150_000;
    const q = buildQuery(7, 'web', TYPE_A);
    const framed = Buffer.alloc(2 + q.length);
    framed.writeUInt16BE(q.length);
    q.copy(framed, 2);
    const c = connect(port, '127.0.0.1');
    c.on('error', () => {});
    c.pause();
    c.write(Buffer.concat(Array.from({ length: count }, () => framed)));
    try {
      await waitFor(() => dns.tcpStats().paused === 1, 'the server to stop reading');
      const stats = dns.tcpStats();
      assert.ok(stats.unsent <= 64 * 1024 + 64 * 64, `answers held: ${stats.unsent} bytes`);
      let buf = Buffer.alloc(0);
      let answers = 0;
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const resp = buf.subarray(2, 2 + buf.readUInt16BE(0));
          assert.deepEqual(parseResponse(resp).addresses, ['10.0.0.5']);
          buf = buf.subarray(2 + resp.length);
          answers++;
        }
      });
      c.resume();
      await waitFor(() => answers === count, `${count} answers (got ${answers})`);
      assert.equal(dns.tcpStats().paused, 0);
    } finally {
      c.destroy();
    }
  });
  it('keeps TCP connections for other clients when one client holds as many as it can open', async () => {
    // One container opening connections and leaving them idle (or sending a byte now and then)
    // used to take every one of the listeners' slots: no other container had DNS over TCP.
    const hog: Socket[] = [];
    try {
      // In rounds, so that none waits out a SYN retry behind a full accept queue.
      for (let round = 0; round < 22; round++) {
        const batch = Array.from({ length: 50 }, () => connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }).on('error', () => {}));
        hog.push(...batch);
        await Promise.all(batch.map((c) => new Promise((r) => c.once('connect', r).once('close', r))));
      }
      // Each one is either held by the server or closed by it.
      const open = () => hog.filter((c) => !c.closed).length;
      await waitFor(() => open() === dns.tcpStats().connections, 'the server to settle');
      assert.ok(dns.tcpStats().connections <= 64, `one client holds ${dns.tcpStats().connections} connections`);
      const other = await tcpQuery(port, buildQuery(8, 'web', TYPE_A), '127.0.0.3');
      assert.deepEqual(parseResponse(other).addresses, ['10.0.0.5']);
    } finally {
      for (const c of hog) c.destroy();
    }
  });
});

describe('embedded DNS forwards', () => {
  it('holds at most 4096 forwards in all, whatever addresses the queries come from, and 2048 of one network', async () => {
    // The upstream holds every query until told to answer, so the forwards stay in flight.
    const { upstream, held, address } = await holdingUpstream();
    const dns = new EmbeddedDns({ upstreams: [address], timeoutMs: 30_000 });
    // Two addresses on each of two networks fill the 4096; the third network's address is refused.
    const ports = [await dns.listen('net2', '127.0.0.1', 0, 'other'), await dns.listen('net3', '127.0.0.1', 0, 'third'), await dns.listen('net4', '127.0.0.1', 0, 'fourth')];
    const portOf = [ports[0]!, ports[0]!, ports[1]!, ports[1]!, ports[2]!];
    const clients = await Promise.all([2, 3, 4, 5, 6].map(clientOn));
    const rcodes = new Map<number, number>();
    let answered = 0;
    try {
      for (const s of clients) {
        s.on('message', (b) => {
          answered++;
          rcodes.set(b[3]! & 0x0f, (rcodes.get(b[3]! & 0x0f) ?? 0) + 1);
        });
      }
      await floodForwards(clients, (c) => portOf[c]!, held, () => answered);
      assert.equal(held.length, 4096);
      assert.equal(rcodes.get(5), 1024);
      for (let i = 0; i < held.length; i += 32) {
        for (const h of held.slice(i, i + 32)) upstream.send(buildResponse(h.msg, parseQuery(h.msg)!, 0, []), h.port, '127.0.0.1');
        await waitFor(() => answered === 1024 + Math.min(i + 32, held.length), 'the held queries to be answered');
      }
      assert.equal(rcodes.get(0), 4096);
    } finally {
      for (const s of clients) s.close();
      upstream.close();
      await dns.closeAll();
    }
  });

  it("one network's addresses take at most half the forwards: another network's queries still go out", async () => {
    // A container forging three addresses of its own subnet (1024 forwards each) against a
    // network's listener, then an honest container on another network.
    const { upstream, held, address } = await holdingUpstream();
    const dns = new EmbeddedDns({ upstreams: [address], timeoutMs: 30_000 });
    const hostile = await dns.listen('hostile', '127.0.0.1', 0, 'hostile');
    const honest = await dns.listen('honest', '127.0.0.1', 0, 'honest');
    const clients = await Promise.all([7, 8, 9, 10].map(clientOn));
    const refused = new Map<number, number>();
    let answered = 0;
    try {
      for (const [c, s] of clients.entries()) {
        s.on('message', (b) => {
          answered++;
          if ((b[3]! & 0x0f) === 5) refused.set(c, (refused.get(c) ?? 0) + 1);
        });
      }
      await floodForwards(clients, (c) => (c < 3 ? hostile : honest), held, () => answered);
      assert.equal(held.length, 2048 + 1024);
      assert.deepEqual([...refused.entries()], [[2, 1024]]);
    } finally {
      for (const s of clients) s.close();
      upstream.close();
      await dns.closeAll();
    }
  });

  it('an answer that comes back after its network is gone is dropped, not sent on the closed socket', async () => {
    const { upstream, held, address } = await holdingUpstream();
    const logged: string[] = [];
    const dns = new EmbeddedDns({ upstreams: [address], timeoutMs: 10_000, log: (m) => logged.push(m) });
    const port = await dns.listen('gone', '127.0.0.1', 0, 'gone');
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const client = createSocket('udp4');
    try {
      client.send(buildQuery(7, 'elsewhere.example', TYPE_A), port, '127.0.0.1');
      await waitFor(() => held.length === 1, 'the query to be forwarded');
      await dns.close('gone');
      const h = held[0]!;
      upstream.send(buildResponse(h.msg, parseQuery(h.msg)!, 0, []), h.port, '127.0.0.1');
      await waitFor(() => logged.includes('dns gone: an answer dropped, the network is gone') || rejections.length > 0, 'the answer to be dropped');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(rejections, []);
    } finally {
      process.off('unhandledRejection', onRejection);
      client.close();
      upstream.close();
      await dns.closeAll();
    }
  });

  it("never forwards an internal network's query from an address that is none of its endpoints", async () => {
    const upstream = createSocket('udp4');
    let asked = 0;
    upstream.on('message', (msg, r) => {
      asked++;
      upstream.send(buildResponse(msg, parseQuery(msg)!, 0, [{ type: TYPE_A, ip: (10 << 24) | 1 }]), r.port, '127.0.0.1');
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    const dns = new EmbeddedDns({ upstreams: [`127.0.0.1:${upstream.address().port}`] });
    try {
      const open = await dns.listen('ext', '127.0.0.1', 0, 'ext');
      const closed = await dns.listen('int', '127.0.0.1', 0, 'int', true);
      assert.deepEqual(parseResponse(await udpQuery(open, buildQuery(1, 'elsewhere.example', TYPE_A))).addresses, ['10.0.0.1']);
      assert.equal(asked, 1);
      const refused = await udpQuery(closed, buildQuery(2, 'elsewhere.example', TYPE_A));
      assert.equal(parseResponse(refused).rcode, 2);
      assert.equal(asked, 1);
    } finally {
      upstream.close();
      await dns.closeAll();
    }
  });

  it('relays over the protocol the client asked with: a TCP retry after a truncated UDP answer gets the whole answer', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ type: TYPE_A, ip: (10 << 24) | (7 << 16) | i }) as const);
    const udp = createSocket('udp4');
    udp.on('message', (msg, r) => udp.send(buildResponse(msg, parseQuery(msg)!, 0, many, 600, 512), r.port, '127.0.0.1'));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const port = udp.address().port;
    const tcp = createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 + buf.readUInt16BE(0)) return;
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        const resp = buildResponse(msg, parseQuery(msg)!, 0, many);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(resp.length);
        c.end(Buffer.concat([len, resp]));
      });
    });
    await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
    const dns = new EmbeddedDns({ upstreams: [`127.0.0.1:${port}`] });
    try {
      const listening = await dns.listen('net4', '127.0.0.1', 0, 'relay');
      const q = buildQuery(9, 'big.example', TYPE_A);
      const overUdp = await udpQuery(listening, q);
      assert.equal(overUdp.readUInt16BE(2) & 0x0200, 0x0200, 'the upstream\'s truncated UDP answer is passed on');
      const overTcp = parseResponse(await tcpQuery(listening, q));
      assert.equal(overTcp.addresses.length, 60);
    } finally {
      udp.close();
      tcp.close();
      await dns.closeAll();
    }
  });

  it("takes a relayed answer only from the nameserver it asked, not a datagram with the query's ID from elsewhere", async () => {
    // A container that learns the relay's port (it can be the nameserver, or watch its own --dns
    // server) sprays answers at it: another container's lookup must not take them.
    const upstream = createSocket('udp4');
    const forger = createSocket('udp4');
    const real = [{ type: TYPE_A, ip: (10 << 24) | 1 }] as const;
    upstream.on('message', (msg, r) => {
      const q = parseQuery(msg)!;
      forger.send(buildResponse(msg, q, 0, [{ type: TYPE_A, ip: (6 << 24) | 6 }]), r.port, '127.0.0.1', () =>
        upstream.send(buildResponse(msg, q, 0, [...real]), r.port, '127.0.0.1'),
      );
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => forger.bind(0, '127.0.0.1', () => r()));
    const dns = new EmbeddedDns({ upstreams: [`127.0.0.1:${upstream.address().port}`] });
    try {
      const listening = await dns.listen('forged', '127.0.0.1', 0, 'forged');
      assert.deepEqual(parseResponse(await udpQuery(listening, buildQuery(13, 'spoofed.example', TYPE_A))).addresses, ['10.0.0.1']);
    } finally {
      upstream.close();
      forger.close();
      await dns.closeAll();
    }
  });

  it('relays to an IPv6 nameserver, over UDP and TCP', async () => {
    const answer = [{ type: TYPE_A, ip: (10 << 24) | (6 << 16) | 6 }] as const;
    const udp = createSocket('udp6');
    udp.on('message', (msg, r) => udp.send(buildResponse(msg, parseQuery(msg)!, 0, [...answer]), r.port, r.address));
    await new Promise<void>((r) => udp.bind(0, '::1', () => r()));
    const port = udp.address().port;
    const tcp = createServer((c) =>
      c.on('data', (d: Buffer) => {
        const msg = d.subarray(2, 2 + d.readUInt16BE(0));
        const resp = buildResponse(msg, parseQuery(msg)!, 0, [...answer]);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(resp.length);
        c.end(Buffer.concat([len, resp]));
      }),
    );
    await new Promise<void>((r) => tcp.listen(port, '::1', () => r()));
    const dns = new EmbeddedDns({ upstreams: [`[::1]:${port}`] });
    try {
      const listening = await dns.listen('net6', '127.0.0.1', 0, 'v6relay');
      assert.deepEqual(parseResponse(await udpQuery(listening, buildQuery(11, 'v6.example', TYPE_A))).addresses, ['10.6.0.6']);
      assert.deepEqual(parseResponse(await tcpQuery(listening, buildQuery(12, 'v6.example', TYPE_A))).addresses, ['10.6.0.6']);
    } finally {
      udp.close();
      tcp.close();
      await dns.closeAll();
    }
  });
});

