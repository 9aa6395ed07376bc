/**
 * Sockets bound inside another network namespace (the addon src/native/netns-socket.c): the
 * embedded DNS's listeners at 127.0.0.11:53 in a container that has no path to the host.
 */
import { loadAddon } from './native-path.js';

interface NetnsSocketAddon {
  bindInNetns(netnsPath: string, tcp: boolean, ip: string, port: number): number;
}

/** Whether the addon is built: without it such containers get no embedded DNS (the daemon logs it). */
export function canBindInNetns(): boolean {
  return loadAddon<NetnsSocketAddon>('netns-socket.node') !== null;
}

/** A descriptor of a UDP (or TCP, not yet listening) socket bound to ip:port in the namespace at `netnsPath`. */
export function bindInNetns(netnsPath: string, tcp: boolean, ip: string, port: number): number {
  const addon = loadAddon<NetnsSocketAddon>('netns-socket.node');
  if (!addon) throw new Error('the netns socket addon is not built (npm run build)');
  return addon.bindInNetns(netnsPath, tcp, ip, port);
}
