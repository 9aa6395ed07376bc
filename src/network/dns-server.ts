/**
 * The embedded DNS server of user-defined networks. The daemon listens on each bridge network's
 * gateway address (UDP and TCP, one port per network, persisted so that it survives a daemon
 * restart); inside every container, 127.0.0.11:53 is redirected there by a DNAT rule in the
 * container's own namespace (links.ts). A container whose networks have no IPv4 path to the host
 * (macvlan, ipvlan, IPv6-only bridges) gets listeners of its own, bound at 127.0.0.11:53 inside
 * its namespace (`listenInNamespace`); such a network only registers its endpoints (`register`). Names on the
 * networks (container names, aliases, short IDs) are answered here; everything else is relayed
 * to the upstream resolvers.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { connect, createServer, isIP, isIPv6, type Server, type Socket } from 'node:net';
import { bindInNetns } from '../lib/netns-socket.js';
import { parseResolvConf } from '../lib/resolv-conf.js';
import { contains, parseIp, type Cidr } from './ipv4.js';
import { contains6, ip6Bytes, parseIp6, type Cidr6 } from './ipv6.js';
import {
  buildResponse,
  encodableName,
  parseQuery,
  CLASS_IN,
  RCODE_NOERROR,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  TYPE_A,
  TYPE_AAAA,
  TYPE_MX,
  TYPE_PTR,
  type Answer,
} from './dns-message.js';

export interface DnsEndpoint {
  /** The endpoint's IPv4 address: none on an IPv6-only network, where A queries get no records. */
  ip?: number;
  /** The endpoint's IPv6 address on an IPv6 network: answered to AAAA queries. */
  ip6?: bigint;
  /** Lower-case names answered with `ip` and `ip6`. */
  names: string[];
  /** The container's --dns servers, used instead of the defaults for its queries. */
  upstreams?: string[];
  /** `--link name:alias` on this network: the alias, for this container's queries only, stands for the name (lower case). */
  links?: Record<string, string>;
  /**
   * Set for a container with no external access (only `internal` networks): the IPv4 subnets of
   * its networks. Its queries are forwarded only to its configured nameservers (--dns, else the
   * daemon's `dns`) inside these subnets (or those of `internalOnly6`), never to the host's, as
   * libnetwork forwards only to what the container can reach from its own namespace.
   */
  internalOnly?: Cidr[];
  /** With `internalOnly`: the IPv6 subnets of the container's networks. */
  internalOnly6?: Cidr6[];
}

/**
 * Forwarded queries in flight per asking address: libnetwork's maxConcurrent, past which its
 * resolver answers REFUSED. Each forward holds a socket (a descriptor) until its upstream answers
 * or 3 s pass: a container sending queries as fast as it could took thousands of the daemon's
 * descriptors, and with them every file and connection it opens.
 */
const MAX_FORWARDS_PER_CLIENT = 1024;
/** Forwarded queries in flight in all: a container may send from addresses that are not its own. */
const MAX_FORWARDS = 4096;
/**
 * Forwarded queries in flight from one listener (a network's, or one container's namespace): a
 * container forging addresses of its own subnet gets 1024 for each, and would otherwise take all
 * 4096, leaving every other network REFUSED for outside names.
 */
const MAX_FORWARDS_PER_LISTENER = MAX_FORWARDS / 2;
/** TCP connections held by all listeners; more are closed as they arrive. */
const MAX_TCP_CONNS = 1024;
/** TCP connections one client (asking address, or a namespace's container) holds, so that one cannot take them all. */
const MAX_TCP_CONNS_PER_CLIENT = 64;
/** Per TCP connection: queries answered at once, and bytes of answers left unsent, before reading stops. */
const MAX_TCP_ANSWERING = 64;
const MAX_TCP_UNSENT = 64 * 1024;

interface Listener {
  /** None on a network that only registers its endpoints. */
  udp?: UdpSocket;
  tcp?: Server;
  port: number;
  /** A listener inside one container's namespace: every query on it is that container's. */
  asker?: string;
  /** The network's name, for `name.network` queries (matched in its own case, as libnetwork does). */
  name: string;
  /** An `internal` network's: a query from an address that is no endpoint of it is never forwarded. */
  internal: boolean;
  /**
   * The network's IPv4 subnet: a listener on the host answers only sources inside it. A container
   * can forge any source (NET_RAW is a default capability), and the answer, which repeats the
   * question, would leave from the host's namespace: to another network, or out of an internal one.
   */
  subnet?: Cidr;
  endpoints: Map<string, StoredEndpoint>;
  conns: Set<Socket>;
  /** Its forwarded queries in flight. */
  forwarding: number;
}

/** An endpoint as a listener keeps it: names in lower case, and the reverse lookup's answer. */
interface StoredEndpoint extends DnsEndpoint {
  /** `<container name>.<network name>`, in their own case: what a PTR query gets, as in Docker. */
  ptr: string;
}

export interface EmbeddedDnsOptions {
  /** `ip` or `ip:port`; default: the host's /etc/resolv.conf nameservers. */
  upstreams?: string[];
  resolvConfPath?: string;
  timeoutMs?: number;
  log?: (msg: string) => void;
}

function bindUdp(ip: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind({ address: ip, port, exclusive: true }, () => resolve(s));
  });
}

function listenTcp(ip: string, port: number, onConn: (c: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onConn);
    srv.once('error', reject);
    srv.listen({ host: ip, port, exclusive: true }, () => resolve(srv));
  });
}

/** The UDP socket and TCP server at 127.0.0.11:53 inside the namespace at `netnsPath`. */
async function listenInNetns(netnsPath: string, onConn: (c: Socket) => void): Promise<{ udp: UdpSocket; tcp: Server }> {
  const udpFd = bindInNetns(netnsPath, false, '127.0.0.11', 53);
  const udp = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ fd: udpFd }, () => resolve());
  }).catch((err: Error) => {
    udp.close();
    throw err;
  });
  try {
    const tcpFd = bindInNetns(netnsPath, true, '127.0.0.11', 53);
    const tcp = createServer(onConn);
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ fd: tcpFd }, () => resolve());
    });
    return { udp, tcp };
  } catch (err) {
    udp.close();
    throw err;
  }
}

/** `ip`, `ipv4:port` or `[ipv6]:port` (port 53 when none is given). */
function splitHostPort(s: string): { host: string; port: number } {
  const v6 = /^\[(.+)\]:(\d+)$/.exec(s);
  if (v6) return { host: v6[1]!, port: Number(v6[2]) };
  const m = /^(.*):(\d+)$/.exec(s);
  return m && !m[1]!.includes(':') ? { host: m[1]!, port: Number(m[2]) } : { host: s, port: 53 };
}

/** A nameserver the relay can use: an IPv4 or IPv6 address, never the embedded DNS's own. */
const usableServer = (host: string) => host !== '127.0.0.11' && isIP(host) !== 0;

export class EmbeddedDns {
  private readonly listeners = new Map<string, Listener>();
  private hostUpstreams: { at: number; list: string[] } | undefined;
  /** Forwarded queries in flight by asking address. */
  private readonly forwards = new Map<string, number>();
  private forwarding = 0;
  private tcpConns = 0;
  private readonly tcpConnsByClient = new Map<string, number>();
  private refusedLoggedAt = 0;

  constructor(private readonly opts: EmbeddedDnsOptions = {}) {}

  /** Listens for network `id` (named `name`, subnet `subnet`) on `ip`; port 0 picks one. Returns the port. */
  async listen(id: string, ip: string, port: number, name = '', internal = false, subnet?: Cidr): Promise<number> {
    const existing = this.listeners.get(id);
    if (existing) return existing.port;
    for (let attempt = 0; ; attempt++) {
      const udp = await bindUdp(ip, port);
      const chosen = udp.address().port;
      const l: Listener = { udp, tcp: undefined as unknown as Server, port: chosen, name, internal, subnet, endpoints: new Map(), conns: new Set(), forwarding: 0 };
      try {
        l.tcp = await listenTcp(ip, chosen, (c) => this.serveTcp(l, c));
      } catch (err) {
        udp.close();
        if (port === 0 && attempt < 10) continue;
        throw err;
      }
      this.serveUdp(id, l, udp);
      this.listeners.set(id, l);
      return chosen;
    }
  }

  /** A network whose containers cannot reach the host over IPv4 (macvlan, ipvlan, IPv6-only): its endpoints, no socket. */
  register(id: string, name: string, internal: boolean): void {
    if (!this.listeners.has(id)) this.listeners.set(id, { port: 0, name, internal, endpoints: new Map(), conns: new Set(), forwarding: 0 });
  }

  /**
   * Listeners at 127.0.0.11:53 inside container `containerId`'s namespace, answering from the
   * networks it is on (kept under `key`, closed with `close(key)`).
   */
  async listenInNamespace(key: string, containerId: string, netnsPath: string): Promise<void> {
    if (this.listeners.has(key)) return;
    const l: Listener = { port: 53, name: '', internal: false, asker: containerId, endpoints: new Map(), conns: new Set(), forwarding: 0 };
    const { udp, tcp } = await listenInNetns(netnsPath, (c) => this.serveTcp(l, c));
    l.udp = udp;
    l.tcp = tcp;
    this.serveUdp(key, l, udp);
    this.listeners.set(key, l);
  }

  private serveUdp(id: string, l: Listener, udp: UdpSocket): void {
    udp.on('message', (msg, rinfo) => {
      if (!fromOwnSubnet(l, rinfo.address)) return;
      void this.answer(l, msg, rinfo.address, true)
        .then((resp) => {
          if (!resp) return;
          // The network may have gone while the query was forwarded: its socket is closed then, and send throws.
          if (this.listeners.get(id) === l) udp.send(resp, rinfo.port, rinfo.address);
          else this.opts.log?.(`dns ${id}: an answer dropped, the network is gone`);
        })
        .catch((e: Error) => this.opts.log?.(`dns ${id}: ${e.message}`));
    });
    udp.on('error', (e) => this.opts.log?.(`dns ${id}: ${e.message}`));
  }

  async close(id: string): Promise<void> {
    const l = this.listeners.get(id);
    if (!l) return;
    this.listeners.delete(id);
    for (const c of l.conns) c.destroy();
    const { udp, tcp } = l;
    await Promise.all([udp && new Promise<void>((r) => udp.close(() => r())), tcp && new Promise<void>((r) => tcp.close(() => r()))]);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((id) => this.close(id)));
  }

  setEndpoint(networkId: string, containerId: string, ep: DnsEndpoint): void {
    const links = ep.links && Object.fromEntries(Object.entries(ep.links).map(([a, n]) => [a.toLowerCase(), n.toLowerCase()]));
    const l = this.listeners.get(networkId);
    l?.endpoints.set(containerId, { ...ep, names: ep.names.map((n) => n.toLowerCase()), links, ptr: `${ep.names[0] ?? ''}.${l.name}` });
  }

  removeEndpoint(networkId: string, containerId: string): void {
    this.listeners.get(networkId)?.endpoints.delete(containerId);
  }

  private serveTcp(l: Listener, c: Socket): void {
    const from = c.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    const client = l.asker ?? from;
    if (this.tcpConns >= MAX_TCP_CONNS || (this.tcpConnsByClient.get(client) ?? 0) >= MAX_TCP_CONNS_PER_CLIENT || !fromOwnSubnet(l, from)) {
      c.destroy();
      return;
    }
    l.conns.add(c);
    this.tcpConns++;
    countIn(this.tcpConnsByClient, client, 1);
    c.on('close', () => {
      l.conns.delete(c);
      this.tcpConns--;
      countIn(this.tcpConnsByClient, client, -1);
    });
    c.on('error', () => c.destroy());
    c.setTimeout(10_000, () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let answering = 0;
    // A client that sends queries and never reads the answers must not make the daemon hold them:
    // reading stops while answers are being made or wait to be sent, and goes on when they are.
    const flow = () => {
      const busy = () => answering >= MAX_TCP_ANSWERING || c.writableLength >= MAX_TCP_UNSENT;
      while (!busy() && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        answering++;
        void this.answer(l, msg, from, false).then((resp) => {
          answering--;
          if (c.destroyed) return;
          if (resp) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(resp.length);
            c.write(Buffer.concat([len, resp]));
          }
          flow();
        });
      }
      if (busy()) c.pause();
      else if (c.isPaused()) c.resume();
    };
    c.on('drain', flow);
    c.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      flow();
    });
  }

  /** The TCP connections of every listener: how many, how many are not being read, and the bytes of answers they have not sent. */
  tcpStats(): { connections: number; paused: number; unsent: number } {
    const conns = [...this.listeners.values()].flatMap((l) => [...l.conns]);
    return { connections: conns.length, paused: conns.filter((c) => c.isPaused()).length, unsent: conns.reduce((n, c) => n + c.writableLength, 0) };
  }

  /**
   * libnetwork's sandbox resolution: a container's queries reach one network's listener, but it is
   * answered from every network the asking container is on (that one first), and `a.b.c` is also
   * tried as `a.b` on network `c`, then `a` on network `b.c`.
   */
  private lookup(l: Listener, name: string, from: string): StoredEndpoint[] {
    const askerId = this.askerOf(l, from);
    const nets = askerId === undefined ? [l] : [l, ...[...this.listeners.values()].filter((o) => o !== l && o.endpoints.has(askerId))];
    const tries: { name: string; network?: string }[] = [{ name }];
    for (let i = name.lastIndexOf('.'); i > 0; i = name.lastIndexOf('.', i - 1)) tries.push({ name: name.slice(0, i), network: name.slice(i + 1) });
    for (const t of tries) t.name = t.name.toLowerCase();
    for (const t of tries) {
      for (const n of nets) {
        if (t.network !== undefined && t.network !== n.name) continue;
        // libnetwork's endpoint aliases: the asking container's own links first.
        const asker = askerId === undefined ? undefined : n.endpoints.get(askerId);
        const wanted = asker?.links && Object.hasOwn(asker.links, t.name) ? asker.links[t.name]! : t.name;
        const found = [...n.endpoints.values()].filter((ep) => ep.names.includes(wanted));
        if (found.length) return found;
      }
    }
    return [];
  }

  /** The container asking on `l` from address `from`: the listener's own, else the endpoint with that address. */
  private askerOf(l: Listener, from: string): string | undefined {
    if (l.asker !== undefined) return l.asker;
    const fromIp = parseIp(from);
    return fromIp === undefined ? undefined : [...l.endpoints].find(([, e]) => e.ip === fromIp)?.[0];
  }

  /** The asking container's endpoint that chooses where its queries are relayed. */
  private askingEndpoint(l: Listener, from: string): StoredEndpoint | undefined {
    const id = this.askerOf(l, from);
    if (id === undefined) return undefined;
    for (const o of [l, ...this.listeners.values()]) {
      const ep = o.endpoints.get(id);
      if (ep) return ep;
    }
    return undefined;
  }

  /** The endpoints a reverse query on `l` may name: its network's, or those of every network of its container. */
  private reachable(l: Listener): StoredEndpoint[] {
    if (l.asker === undefined) return [...l.endpoints.values()];
    return [...this.listeners.values()].filter((o) => o.endpoints.has(l.asker!)).flatMap((o) => [...o.endpoints.values()]);
  }

  /** The endpoint of an in-addr.arpa or ip6.arpa (32 nibbles) name. */
  private reverse(l: Listener, name: string): StoredEndpoint | undefined {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/i.exec(name);
    if (m) {
      const ip = parseIp(`${m[4]}.${m[3]}.${m[2]}.${m[1]}`);
      return ip === undefined ? undefined : this.reachable(l).find((e) => e.ip === ip);
    }
    const m6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/i.exec(name);
    if (!m6) return undefined;
    const ip6 = BigInt(`0x${m6[1]!.split('.').reverse().join('')}`);
    return this.reachable(l).find((e) => e.ip6 === ip6);
  }

  /** The answer to one query; over UDP (`udp`) it fits 512 bytes or the query's EDNS0 size. */
  private async answer(l: Listener, msg: Buffer, from: string, udp: boolean): Promise<Buffer | undefined> {
    const q = parseQuery(msg);
    if (!q) return undefined;
    const maxSize = udp ? Math.max(512, q.udpSize ?? 0) : Infinity;
    const name = q.name.replace(/\.$/, '');
    if (q.cls === CLASS_IN && (q.type === TYPE_A || q.type === TYPE_AAAA || q.type === TYPE_MX)) {
      const eps = this.lookup(l, name, from);
      // MX of a container's name: libnetwork answers it here, empty, rather than forward it.
      if (eps.length && q.type === TYPE_MX) return buildResponse(msg, q, RCODE_NOERROR, []);
      if (eps.length) {
        // A name on the network is answered here, with no records for a family it lacks, its
        // addresses in a new order each time (as libnetwork shuffles them).
        const answers: Answer[] =
          q.type === TYPE_A
            ? eps.flatMap((ep) => (ep.ip === undefined ? [] : [{ type: TYPE_A, ip: ep.ip } as const]))
            : eps.flatMap((ep) => (ep.ip6 === undefined ? [] : [{ type: TYPE_AAAA, ip6: ip6Bytes(ep.ip6) } as const]));
        return buildResponse(msg, q, RCODE_NOERROR, shuffled(answers), 600, maxSize);
      }
    }
    if (q.cls === CLASS_IN && q.type === TYPE_PTR) {
      const ep = this.reverse(l, name);
      if (ep?.names[0] && encodableName(ep.ptr)) return buildResponse(msg, q, RCODE_NOERROR, [{ type: TYPE_PTR, name: ep.ptr }]);
    }
    const ep = this.askingEndpoint(l, from);
    // A container's own --dns servers are addresses in its namespace, where Docker forwards from: a
    // loopback one is the container's loopback, which the daemon cannot reach from the host's
    // namespace, and must not stand for the host's (only the host's resolv.conf names the host's).
    const upstreams =
      ep?.internalOnly ? this.internalUpstreams(ep, ep.internalOnly, ep.internalOnly6 ?? [])
      : !ep && l.internal ? []
      : ep?.upstreams?.length ? ep.upstreams.filter((u) => !isLoopbackServer(u)) : await this.defaultUpstreams();
    // A namespace's own listener sees every query come from its loopback: counted by container.
    const client = l.asker ?? from;
    const inFlight = this.forwards.get(client) ?? 0;
    if (inFlight >= MAX_FORWARDS_PER_CLIENT || l.forwarding >= MAX_FORWARDS_PER_LISTENER || this.forwarding >= MAX_FORWARDS) {
      // At most once every 2 s, as libnetwork's logInterval.
      if (Date.now() - this.refusedLoggedAt >= 2000) {
        this.refusedLoggedAt = Date.now();
        this.opts.log?.(`dns: too many concurrent queries (${inFlight} from ${client}, ${this.forwarding} in all)`);
      }
      return buildResponse(msg, q, RCODE_REFUSED, []);
    }
    countIn(this.forwards, client, 1);
    this.forwarding++;
    l.forwarding++;
    let resp: Buffer | undefined;
    try {
      resp = await this.forward(msg, upstreams, udp);
    } finally {
      this.forwarding--;
      l.forwarding--;
      countIn(this.forwards, client, -1);
    }
    return resp ?? buildResponse(msg, q, RCODE_SERVFAIL, []);
  }

  /** The nameservers a container on `internal` networks alone can reach: none of the host's. */
  private internalUpstreams(ep: StoredEndpoint, reach: Cidr[], reach6: Cidr6[]): string[] {
    const configured = ep.upstreams?.length ? ep.upstreams : this.opts.upstreams ?? [];
    return configured.filter((u) => {
      const host = splitHostPort(u).host;
      const ip = parseIp(host);
      if (ip !== undefined) return reach.some((c) => contains(c, ip));
      const ip6 = parseIp6(host);
      return ip6 !== undefined && reach6.some((c) => contains6(c, ip6));
    });
  }

  private async defaultUpstreams(): Promise<string[]> {
    if (this.opts.upstreams) return this.opts.upstreams;
    const now = Date.now();
    if (this.hostUpstreams && now - this.hostUpstreams.at < 5000) return this.hostUpstreams.list;
    const text = await readFile(this.opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8').catch(() => '');
    const list = parseResolvConf(text).nameservers.filter(usableServer);
    this.hostUpstreams = { at: now, list };
    return list;
  }

  /**
   * Relays the query to the first three upstreams in turn (127.0.0.11 skipped, as libnetwork
   * does), over the protocol the client asked with (a client that got a truncated UDP answer asks
   * again over TCP, for the whole answer); the first answer that is not SERVFAIL or REFUSED wins,
   * NXDOMAIN included.
   */
  private async forward(msg: Buffer, upstreams: string[], udp: boolean): Promise<Buffer | undefined> {
    const usable = upstreams.filter((u) => usableServer(splitHostPort(u).host));
    const timeoutMs = this.opts.timeoutMs ?? 3000;
    for (const u of usable.slice(0, 3)) {
      const { host, port } = splitHostPort(u);
      const resp = udp ? await exchangeUdp(msg, host, port, timeoutMs) : await exchangeTcp(msg, host, port, timeoutMs);
      const rcode = resp && resp.length >= 4 ? resp[3]! & 0x0f : RCODE_SERVFAIL;
      if (resp && rcode !== RCODE_SERVFAIL && rcode !== RCODE_REFUSED) return resp;
    }
    return undefined;
  }
}

/**
 * One exchange with an upstream: `start` sends the query and calls `done` with the answer (or
 * undefined on an error); the first call or the timeout settles it, and `start`'s closer runs once.
 */
function exchange(timeoutMs: number, start: (done: (b?: Buffer) => void) => () => void): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    // `done` may come before `start` has returned its closer (a synchronous error).
    const state: { settled: boolean; close?: () => void } = { settled: false };
    const done = (b?: Buffer) => {
      if (state.settled) return;
      state.settled = true;
      clearTimeout(timer);
      state.close?.();
      resolve(b);
    };
    const timer = setTimeout(() => done(), timeoutMs);
    state.close = start(done);
    if (state.settled) state.close();
  });
}

/**
 * One query over UDP: the answer that carries the query's ID. The socket is connected, as Go's
 * resolver dials it, so the kernel drops datagrams from anyone but the nameserver (a container
 * spraying answers at the relay's port), and a refusal (ICMP) ends the exchange at once.
 */
function exchangeUdp(msg: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  return exchange(timeoutMs, (done) => {
    const s = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    s.on('error', () => done());
    s.on('message', (b) => {
      if (b.length >= 2 && b.readUInt16BE(0) === msg.readUInt16BE(0)) done(b);
    });
    s.connect(port, host, () => s.send(msg));
    return () => s.close();
  });
}

/** One query over TCP (RFC 1035 §4.2.2, length-prefixed): the first answer, if it carries the query's ID. */
function exchangeTcp(msg: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  return exchange(timeoutMs, (done) => {
    const c = connect({ host, port });
    let buf = Buffer.alloc(0);
    c.on('error', () => done());
    c.on('close', () => done());
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // The length prefix bounds it: at most 64 KiB and two bytes are read.
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const resp = buf.subarray(2, 2 + buf.readUInt16BE(0));
      done(resp.length >= 2 && resp.readUInt16BE(0) === msg.readUInt16BE(0) ? Buffer.from(resp) : undefined);
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    c.write(Buffer.concat([len, msg]));
    return () => c.destroy();
  });
}

/** Adds `by` to a client's count, dropping the client at 0 so that the map holds only those with some. */
function countIn(counts: Map<string, number>, client: string, by: 1 | -1): void {
  const n = (counts.get(client) ?? 0) + by;
  if (n === 0) counts.delete(client);
  else counts.set(client, n);
}

/** Whether a query from `address` may be answered on `l`: always in a namespace's own listener. */
function fromOwnSubnet(l: Listener, address: string): boolean {
  if (!l.subnet) return true;
  const ip = parseIp(address);
  return ip !== undefined && contains(l.subnet, ip);
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function isLoopbackServer(server: string): boolean {
  const { host } = splitHostPort(server);
  const ip = parseIp(host);
  return (ip !== undefined && ip >>> 24 === 127) || parseIp6(host) === 1n;
}
