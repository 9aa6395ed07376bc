/**
 * The daemon's port proxy for IPv6 host bindings, doing what Docker's docker-proxy does for them:
 * connections to `[::1]:P` (which IPv6 never routes out of lo, so DNAT cannot serve them) and, for
 * a container without an IPv6 address, every IPv6 connection to the port, are relayed to the
 * container's address. TCP streams are piped with backpressure; UDP flows get one upstream
 * socket per client, closed after 90 s idle (docker-proxy's UDP timeout). The proxy lives in the
 * daemon: a daemon restart drops proxied connections (not DNATed ones) and `restore` listens again.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Server, type Socket } from 'node:net';

/** `ip` is read for each new connection or flow ('' while the container has no gateway network). */
export interface ProxyTarget {
  readonly ip: string;
  port: number;
}

const UDP_IDLE_MS = 90_000;
/**
 * Proxied TCP connections and UDP flows at once, over all ports (each holds two descriptors of
 * the daemon): past it, new ones are refused, so a flood at a published port cannot take the
 * descriptors the daemon needs for its API. docker-proxy, a process per port, has no such cap.
 */
export const MAX_PROXIED = 2048;
let proxied = 0;

/** Makes `server` (listening on the host port) relay each connection to `target`. */
export function proxyTcp(server: Server, target: ProxyTarget): () => void {
  const open = new Set<Socket>();
  server.on('connection', (client) => {
    // An empty host would be node's localhost: never relay there.
    const ip = target.ip;
    if (proxied >= MAX_PROXIED || !ip) return void client.destroy();
    proxied++;
    const upstream = connect({ host: ip, port: target.port });
    // Counted until both sides are gone: a client that keeps its side open after the container
    // closed its own still holds a descriptor of the daemon.
    let sidesOpen = 2;
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        if (--sidesOpen === 0) proxied--;
      });
      s.setNoDelay(true);
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    // A half-close is passed on, as docker-proxy does with CloseWrite.
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return () => {
    for (const s of open) s.destroy();
  };
}

/** Makes the bound UDP socket relay datagrams to `target` and the answers back to each client. */
export function proxyUdp(socket: UdpSocket, target: ProxyTarget): () => void {
  const flows = new Map<string, { up: UdpSocket; connected: Promise<void>; timer: NodeJS.Timeout }>();
  const drop = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    flows.delete(key);
    proxied--;
    clearTimeout(f.timer);
    f.up.close();
  };
  socket.on('message', (msg, from) => {
    const key = `${from.address}|${from.port}`;
    let f = flows.get(key);
    if (!f) {
      const ip = target.ip;
      if (proxied >= MAX_PROXIED || !ip) return;
      proxied++;
      const up = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
      up.on('error', () => drop(key));
      up.on('message', (answer) => {
        socket.send(answer, from.port, from.address);
        const g = flows.get(key);
        if (g) g.timer.refresh();
      });
      // Connected, as docker-proxy dials it: the kernel drops what anyone but the container sends to
      // this socket, which would otherwise go to the client as the container's answer.
      const connected = new Promise<void>((resolve) => up.connect(target.port, ip, () => resolve()));
      f = { up, connected, timer: setTimeout(() => drop(key), UDP_IDLE_MS).unref() };
      flows.set(key, f);
    }
    f.timer.refresh();
    const { up, connected } = f;
    void connected.then(() => {
      if (flows.get(key)?.up === up) up.send(msg);
    });
  });
  return () => {
    for (const key of [...flows.keys()]) drop(key);
  };
}
