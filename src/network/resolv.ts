import { parseResolvConf } from '../lib/resolv-conf.js';

/**
 * /etc/resolv.conf of a container on a user-defined network: the embedded DNS at 127.0.0.11,
 * the search domains and options of the host (or --dns-search / --dns-option), `ndots:0` unless
 * set, as Docker writes it. The real upstreams (--dns, else the host's) are where the embedded
 * DNS forwards; they are noted in a comment like Docker's "ExtServers".
 */
export function embeddedResolvConf(
  hostResolv: string,
  overrides: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] } = {},
): string {
  const { nameservers: hostServers, search, options } = parseResolvConf(hostResolv);
  // One field each (create refuses the others; an older record's are dropped, never written).
  const oneField = (s: string) => s !== '' && !/[\s\x00-\x1f\x7f]/.test(s);
  const searchList = overrides.dnsSearch?.length ? overrides.dnsSearch.filter((s) => s !== '.' && oneField(s)) : search;
  // Only a valid ndots (an integer of 0 or more) counts; without one the file gets ndots:0, as Docker's.
  const given = overrides.dnsOptions?.length ? overrides.dnsOptions.filter(oneField) : options;
  const validNdots = (o: string) => /^ndots:\d+$/.test(o);
  const opts = given.some(validNdots) ? given : [...given.filter((o) => !o.startsWith('ndots:')), 'ndots:0'];
  const ext = overrides.dns?.length ? overrides.dns.filter(oneField) : hostServers;
  const out = ['nameserver 127.0.0.11'];
  if (searchList.length) out.push(`search ${searchList.join(' ')}`);
  out.push(`options ${opts.join(' ')}`);
  out.push('', `# ExtServers: [${ext.join(' ')}]`);
  return out.join('\n') + '\n';
}
