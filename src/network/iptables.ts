/**
 * Firewall rules, all in chains of our own (prefix WHARF by default) so that they are easy to
 * count and remove and never mix with Docker's DOCKER chains:
 *   nat    <P>              DNAT of published ports (from PREROUTING and OUTPUT, local destinations)
 *   nat    <P>-POSTROUTING  MASQUERADE: outbound per subnet, loopback-origin and hairpin DNAT traffic
 *   filter <P>-FORWARD      accept/drop per bridge (from FORWARD, inserted first)
 *   filter <P>-ISOLATION-1/2  no traffic between different bridges
 *   raw    <P>-PREROUTING   drops 127/8 destinations arriving on a bridge (route_localnet is on)
 * Changes go through one `iptables-restore --noflush` per batch.
 */
import { createHash } from 'node:crypto';
import { run, CommandError } from './exec.js';

export interface Rule {
  table: 'nat' | 'filter' | 'raw';
  chain: string;
  args: string;
}

export interface Chains {
  dnat: string;
  post: string;
  forward: string;
  iso1: string;
  iso2: string;
  raw: string;
}

/**
 * The chain prefix of a daemon whose default bridge is `bridge`: WHARF for the standard wharf0,
 * otherwise one derived from the name, so that daemons with different bridges (tests beside a
 * running wharfd) never share chains. Short enough for iptables' 28-character chain names.
 */
export function chainPrefixForBridge(bridge: string): string {
  if (bridge === 'wharf0') return 'WHARF';
  return `WH${createHash('sha256').update(bridge).digest('hex').slice(0, 8).toUpperCase()}`;
}

export function chainNames(prefix: string): Chains {
  return {
    dnat: prefix,
    post: `${prefix}-POSTROUTING`,
    forward: `${prefix}-FORWARD`,
    iso1: `${prefix}-ISOLATION-1`,
    iso2: `${prefix}-ISOLATION-2`,
    raw: `${prefix}-PREROUTING`,
  };
}

/** Jumps from the built-in chains into ours. */
function jumps(c: Chains): Array<Rule & { insert: boolean }> {
  return [
    { table: 'nat', chain: 'PREROUTING', args: `-m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
    { table: 'nat', chain: 'OUTPUT', args: `-m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
    { table: 'nat', chain: 'POSTROUTING', args: `-j ${c.post}`, insert: false },
    { table: 'filter', chain: 'FORWARD', args: `-j ${c.forward}`, insert: true },
    { table: 'raw', chain: 'PREROUTING', args: `-j ${c.raw}`, insert: false },
  ];
}

export interface BridgeNet {
  bridge: string;
  subnet: string;
  internal: boolean;
}

export function networkRules(c: Chains, n: BridgeNet): Rule[] {
  const br = n.bridge;
  const r: Rule[] = [];
  if (!n.internal) r.push({ table: 'nat', chain: c.post, args: `-s ${n.subnet} ! -o ${br} -j MASQUERADE` });
  r.push({ table: 'nat', chain: c.post, args: `-s 127.0.0.0/8 -o ${br} -j MASQUERADE` });
  r.push({ table: 'nat', chain: c.post, args: `-s ${n.subnet} -o ${br} -m conntrack --ctstate DNAT -j MASQUERADE` });
  r.push({ table: 'filter', chain: c.iso1, args: `-i ${br} ! -o ${br} -j ${c.iso2}` });
  r.push({ table: 'filter', chain: c.iso2, args: `-o ${br} -j DROP` });
  if (n.internal) {
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -o ${br} -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -j DROP` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -j DROP` });
  } else {
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -m conntrack --ctstate DNAT -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -j DROP` });
  }
  r.push({ table: 'raw', chain: c.raw, args: `-i ${br} -d 127.0.0.0/8 -j DROP` });
  return r;
}

export interface PortRule {
  proto: string;
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export function portRules(c: Chains, p: PortRule): Rule[] {
  const dst = p.hostIp && p.hostIp !== '0.0.0.0' ? `-d ${p.hostIp}/32 ` : '';
  return [
    {
      table: 'nat',
      chain: c.dnat,
      args: `${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIp}:${p.containerPort}`,
    },
  ];
}

function restoreText(rules: Rule[], op: '-A' | '-D', declare: Record<string, string[]> = {}): string {
  const tables = ['raw', 'nat', 'filter'] as const;
  let out = '';
  for (const t of tables) {
    const rs = rules.filter((r) => r.table === t);
    const decl = declare[t] ?? [];
    if (!rs.length && !decl.length) continue;
    out += `*${t}\n`;
    for (const ch of decl) out += `:${ch} - [0:0]\n`;
    for (const r of rs) out += `${op} ${r.chain} ${r.args}\n`;
    out += 'COMMIT\n';
  }
  return out;
}

export class Firewall {
  readonly chains: Chains;

  constructor(prefix: string) {
    this.chains = chainNames(prefix);
  }

  /**
   * Creates (flushing) our chains with exactly `rules` in them, and the jumps into them when
   * missing. Used at daemon start: the chains are rebuilt from the persisted state.
   */
  async rebuild(rules: Rule[]): Promise<void> {
    const c = this.chains;
    const declare = { nat: [c.dnat, c.post], filter: [c.forward, c.iso1, c.iso2], raw: [c.raw] };
    const first: Rule[] = [
      { table: 'filter', chain: c.forward, args: `-j ${c.iso1}` },
      // Published ports are for every container, whatever its network (Docker's userland proxy
      // gives that): a DNATed connection, both ways, is exempt from the isolation between bridges.
      { table: 'filter', chain: c.iso1, args: '-m conntrack --ctstate DNAT -j RETURN' },
    ];
    await run('iptables-restore', ['--noflush'], restoreText([...first, ...rules], '-A', declare));
    for (const j of jumps(c)) {
      const spec = j.args.split(' ');
      try {
        await run('iptables', ['-w', '-t', j.table, '-C', j.chain, ...spec]);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        await run('iptables', ['-w', '-t', j.table, j.insert ? '-I' : '-A', j.chain, ...(j.insert ? ['1'] : []), ...spec]);
      }
    }
  }

  async add(rules: Rule[]): Promise<void> {
    if (rules.length) await run('iptables-restore', ['--noflush'], restoreText(rules, '-A'));
  }

  /** Deletes rules; one missing rule does not keep the others. */
  async remove(rules: Rule[]): Promise<void> {
    if (!rules.length) return;
    try {
      await run('iptables-restore', ['--noflush'], restoreText(rules, '-D'));
    } catch {
      for (const r of rules) await run('iptables', ['-w', '-t', r.table, '-D', r.chain, ...r.args.split(' ')]).catch(() => {});
    }
  }

  /** Rules currently in our chains, as `iptables -S` prints them (without the -N lines). */
  async list(): Promise<string[]> {
    const c = this.chains;
    const out: string[] = [];
    const pairs: Array<[string, string]> = [
      ['nat', c.dnat], ['nat', c.post], ['filter', c.forward], ['filter', c.iso1], ['filter', c.iso2], ['raw', c.raw],
    ];
    for (const [t, ch] of pairs) {
      const text = await run('iptables', ['-w', '-t', t, '-S', ch]).catch(() => '');
      out.push(...text.split('\n').filter((l) => l.startsWith('-A ')).map((l) => `${t} ${l}`));
    }
    return out;
  }

  /** Removes the jumps and the chains (tests, uninstall). */
  async destroy(): Promise<void> {
    const c = this.chains;
    for (const j of jumps(c)) {
      await run('iptables', ['-w', '-t', j.table, '-D', j.chain, ...j.args.split(' ')]).catch(() => {});
    }
    const pairs: Array<[string, string]> = [
      ['nat', c.dnat], ['nat', c.post], ['filter', c.forward], ['filter', c.iso1], ['filter', c.iso2], ['raw', c.raw],
    ];
    for (const [t, ch] of pairs) await run('iptables', ['-w', '-t', t, '-F', ch]).catch(() => {});
    for (const [t, ch] of pairs) await run('iptables', ['-w', '-t', t, '-X', ch]).catch(() => {});
  }
}
