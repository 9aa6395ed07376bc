/**
 * Firewall rules, all in chains of our own (prefix WHARF by default) so that they are easy to
 * count and remove and never mix with Docker's DOCKER chains:
 *   nat    <P>              DNAT of published ports (from PREROUTING and OUTPUT, local destinations)
 *   nat    <P>-POSTROUTING  MASQUERADE: outbound per subnet, loopback-origin and hairpin DNAT traffic
 *   filter <P>-FORWARD      accept/drop per bridge (from FORWARD, inserted first); published
 *                           container ports accepted right after its isolation jump (openPortRules)
 *   filter <P>-ISOLATION-1/2  no traffic between different bridges
 *   raw    <P>-PREROUTING   drops 127/8 destinations arriving on a bridge (route_localnet is on),
 *                           and packets for a nat network's containers arriving elsewhere
 * and the operator's filter DOCKER-USER, which FORWARD jumps to before ours (ensureUserChain).
 * IPv6 networks and published ports get the same chains in ip6tables (IPv6 never routes ::1, so
 * the raw chain drops no loopback there), with the nat OUTPUT jump skipping ::1, which the
 * daemon's port proxy serves (ports.ts), as Docker's docker-proxy does.
 * Changes go through one `iptables-restore --noflush` (and `ip6tables-restore`) per batch.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { run, CommandError } from './exec.js';

export interface Rule {
  table: 'nat' | 'filter' | 'raw';
  chain: string;
  args: string;
  /** An ip6tables rule. */
  v6?: boolean;
  /** Goes to this place in its chain (ahead of a network's final DROP), not to its end. */
  insert?: number;
}

const TOOL = { 4: 'iptables', 6: 'ip6tables' } as const;
const RESTORE = { 4: 'iptables-restore', 6: 'ip6tables-restore' } as const;
type Family = 4 | 6;
const familyOf = (r: Rule): Family => (r.v6 ? 6 : 4);

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
function jumps(c: Chains, family: Family): Array<Omit<Rule, 'insert'> & { insert: boolean }> {
  if (family === 6) {
    return [
      { table: 'nat', chain: 'PREROUTING', args: `-m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
      { table: 'nat', chain: 'OUTPUT', args: `! -d ::1/128 -m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
      { table: 'nat', chain: 'POSTROUTING', args: `-j ${c.post}`, insert: false },
      { table: 'filter', chain: 'FORWARD', args: `-j ${c.forward}`, insert: true },
      { table: 'raw', chain: 'PREROUTING', args: `-j ${c.raw}`, insert: false },
    ];
  }
  return [
    { table: 'nat', chain: 'PREROUTING', args: `-m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
    { table: 'nat', chain: 'OUTPUT', args: `-m addrtype --dst-type LOCAL -j ${c.dnat}`, insert: false },
    { table: 'nat', chain: 'POSTROUTING', args: `-j ${c.post}`, insert: false },
    { table: 'filter', chain: 'FORWARD', args: `-j ${c.forward}`, insert: true },
    { table: 'raw', chain: 'PREROUTING', args: `-j ${c.raw}`, insert: false },
  ];
}

/** Our chains (the same in each family), as [table, chain] pairs. */
function chainPairs(c: Chains): Array<['nat' | 'filter' | 'raw', string]> {
  return [['nat', c.dnat], ['nat', c.post], ['filter', c.forward], ['filter', c.iso1], ['filter', c.iso2], ['raw', c.raw]];
}

export interface BridgeNet {
  bridge: string;
  /** The IPv4 subnet; none on an IPv6-only network, which gets no iptables rule. */
  subnet?: string;
  internal: boolean;
  /** Containers on the network reach each other (enable_icc); false drops their traffic between them. */
  icc?: boolean;
  /** Outbound traffic is masqueraded (enable_ip_masquerade); false leaves the containers' source addresses. */
  masquerade?: boolean;
  /** The IPv6 subnet of an IPv6 network: the same rules in ip6tables. */
  subnet6?: string;
  /** com.docker.network.host_ipv4 / host_ipv6: outbound traffic is SNATed to this address instead of masqueraded. */
  snat?: string;
  snat6?: string;
  /** com.docker.network.bridge.gateway_mode_ipv4 / _ipv6 (nat when unset). */
  gatewayMode?: GatewayMode;
  gatewayMode6?: GatewayMode;
  /**
   * The drop of direct routing to a nat family's containers (directAccessRules), with the gateway
   * of each family and the network's trusted host interfaces; absent when the daemon allows
   * direct routing.
   */
  directAccess?: { gateway?: string; gateway6?: string; trusted: string[] };
}

/**
 * The bridge driver's gateway modes, per address family: `nat` masquerades and maps ports with
 * DNAT, dropping anything else routed to the containers; `nat-unprotected` does the same without
 * the drop; `routed` neither masquerades nor maps, only opens the published container ports (and
 * ICMP) to traffic routed to the containers' addresses; `isolated` (internal networks only) gives
 * the bridge no address.
 */
export type GatewayMode = 'nat' | 'nat-unprotected' | 'routed' | 'isolated';

export function networkRules(c: Chains, n: BridgeNet): Rule[] {
  return [...familyRules(c, n), ...directAccess(c, n)];
}

function directAccess(c: Chains, n: BridgeNet): Rule[] {
  const d = n.directAccess;
  if (!d || n.internal) return [];
  const each = [
    [n.subnet, d.gateway, n.gatewayMode],
    [n.subnet6, d.gateway6, n.gatewayMode6],
  ] as const;
  return each.flatMap(([subnet, gateway, mode]) =>
    subnet && gateway && (mode ?? 'nat') === 'nat' ? directAccessRules(c, { bridge: n.bridge, subnet, gateway, trusted: d.trusted }) : [],
  );
}

function familyRules(c: Chains, n: BridgeNet): Rule[] {
  const v4 = n.subnet ? networkRules4(c, { ...n, subnet: n.subnet }) : [];
  if (!n.subnet6) return v4;
  // The same policy for IPv6, less what only IPv4's route_localnet needs.
  // IPv6's own SNAT source, never IPv4's.
  const { snat: _v4, snat6, gatewayMode: _m4, gatewayMode6, ...rest } = n;
  const v6 = networkRules4(c, { ...rest, subnet: n.subnet6, ...(snat6 ? { snat: snat6 } : {}), ...(gatewayMode6 ? { gatewayMode: gatewayMode6 } : {}) }, 'ipv6-icmp')
    .filter((r) => r.table !== 'raw' && !r.args.startsWith('-s 127.0.0.0/8'))
    .map((r) => ({ ...r, v6: true }));
  return [...v4, ...v6];
}

function networkRules4(c: Chains, n: BridgeNet & { subnet: string }, icmp = 'icmp'): Rule[] {
  const br = n.bridge;
  const r: Rule[] = [];
  const outbound = n.snat ? `SNAT --to-source ${n.snat}` : 'MASQUERADE';
  const routed = n.gatewayMode === 'routed';
  if (!n.internal && n.masquerade !== false && !routed) r.push({ table: 'nat', chain: c.post, args: `-s ${n.subnet} ! -o ${br} -j ${outbound}` });
  const icc = n.icc !== false;
  r.push({ table: 'nat', chain: c.post, args: `-s 127.0.0.0/8 -o ${br} -j MASQUERADE` });
  r.push({ table: 'nat', chain: c.post, args: `-s ${n.subnet} -o ${br} -m conntrack --ctstate DNAT -j MASQUERADE` });
  // A routed network takes traffic from the other networks as from anywhere (its own rules below
  // filter it), and its replies go back to them.
  r.push({ table: 'filter', chain: c.iso1, args: `-i ${br} ! -o ${br}${routed ? ' -m conntrack ! --ctstate RELATED,ESTABLISHED' : ''} -j ${c.iso2}` });
  if (!routed) r.push({ table: 'filter', chain: c.iso2, args: `-o ${br} -j DROP` });
  if (n.internal) {
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -o ${br} -j ${icc ? 'ACCEPT' : 'DROP'}` });
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -j DROP` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -j DROP` });
  } else {
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -m conntrack --ctstate DNAT -j ACCEPT` });
    // Published ports stay reachable from the network's own containers (the DNAT accept above).
    if (!icc) r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -o ${br} -j DROP` });
    r.push({ table: 'filter', chain: c.forward, args: `-i ${br} -j ACCEPT` });
    if (routed) r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -p ${icmp} -j ACCEPT` });
    r.push({ table: 'filter', chain: c.forward, args: `-o ${br} -j ${n.gatewayMode === 'nat-unprotected' ? 'ACCEPT' : 'DROP'}` });
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

/** The DNAT of a published port; a v6 host address with a v6 container address gives an ip6tables rule. */
export function portRules(c: Chains, p: PortRule): Rule[] {
  const v6 = p.hostIp.includes(':');
  if (v6 !== p.containerIp.includes(':')) return []; // across families: the port proxy's job
  if (v6) {
    const dst = p.hostIp !== '::' ? `-d ${p.hostIp}/128 ` : '';
    const args = `${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination [${p.containerIp}]:${p.containerPort}`;
    return [{ table: 'nat', chain: c.dnat, args, v6: true }];
  }
  const dst = p.hostIp && p.hostIp !== '0.0.0.0' ? `-d ${p.hostIp}/32 ` : '';
  return [
    {
      table: 'nat',
      chain: c.dnat,
      args: `${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIp}:${p.containerPort}`,
    },
  ];
}

/**
 * A published container port, open to traffic routed to the container's address from outside its
 * bridge (on a nat network, where the raw rules of directAccessRules let it through), ahead of the
 * network's final DROP but after the isolation jump, the forward chain's first rule.
 */
export function openPortRules(c: Chains, p: { proto: string; bridge: string; containerIp: string; containerPort: number }): Rule[] {
  const v6 = p.containerIp.includes(':');
  const args = `-d ${p.containerIp}/${v6 ? 128 : 32} ! -i ${p.bridge} -o ${p.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j ACCEPT`;
  return [{ table: 'filter', chain: c.forward, args, insert: 2, ...(v6 ? { v6: true } : {}) }];
}

/**
 * Docker 28's protection of a nat network from direct routing: packets for its containers arriving
 * on any interface but its bridge (or one of the network's `trusted` host interfaces) are dropped
 * before anything else sees them. libnetwork drops each container's address; the subnet less the
 * gateway (the host's own address) drops the same packets with rules that change only with the
 * network, so a container's start and removal need no firewall call of their own.
 */
export function directAccessRules(c: Chains, p: { bridge: string; subnet: string; gateway: string; trusted: string[] }): Rule[] {
  const v6 = p.subnet.includes(':');
  const family = v6 ? { v6: true } : {};
  return [
    ...p.trusted.map((i): Rule => ({ table: 'raw', chain: c.raw, args: `-d ${p.subnet} -i ${i} -j RETURN`, ...family })),
    { table: 'raw', chain: c.raw, args: `-d ${p.gateway}/${v6 ? 128 : 32} -j RETURN`, ...family },
    { table: 'raw', chain: c.raw, args: `-d ${p.subnet} ! -i ${p.bridge} -j DROP`, ...family },
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
    for (const r of rs) out += `${op === '-A' && r.insert ? `-I ${r.chain} ${r.insert}` : `${op} ${r.chain}`} ${r.args}\n`;
    out += 'COMMIT\n';
  }
  return out;
}

/** The operator's chain, Docker's documented place for rules that outlive daemon restarts. */
const USER_CHAIN = 'DOCKER-USER';

/**
 * DOCKER-USER exists and FORWARD jumps to it before it jumps to our chain, as dockerd keeps it,
 * so an operator's rules there also apply to wharfd's containers. Its rules are the operator's:
 * never flushed nor removed, and shared with a dockerd on the same host.
 */
async function ensureUserChain(family: Family, ours: string): Promise<void> {
  const tool = TOOL[family];
  const quiet = (args: string[]) =>
    run(tool, ['-w', '-t', 'filter', ...args]).then(
      () => true,
      (err) => {
        if (!(err instanceof CommandError)) throw err;
        return false;
      },
    );
  // Another engine (a dockerd, another wharfd) may change FORWARD and the chain meanwhile: each
  // step tolerates what it finds, and the whole is tried again while the jump is not first. Two
  // daemons starting at once can each insert the jump; the next start removes the extra one.
  const jump = `-A FORWARD -j ${USER_CHAIN}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    await quiet(['-N', USER_CHAIN]); // fails when it exists
    const forward = (await run(tool, ['-w', '-t', 'filter', '-S', 'FORWARD'])).split('\n').filter((l) => l.startsWith('-A FORWARD '));
    for (let extra = forward.filter((l) => l === jump).length - 1; extra > 0; extra--) {
      if (await quiet(['-D', 'FORWARD', '-j', USER_CHAIN])) forward.splice(forward.indexOf(jump), 1);
    }
    const user = forward.indexOf(jump);
    const own = forward.indexOf(`-A FORWARD -j ${ours}`);
    if (user >= 0 && (own < 0 || user < own)) return;
    if (user >= 0 && !(await quiet(['-D', 'FORWARD', '-j', USER_CHAIN]))) continue;
    if (await quiet(['-I', 'FORWARD', '1', '-j', USER_CHAIN])) return;
  }
  throw new Error(`${tool}: FORWARD's jump to ${USER_CHAIN} could not be put first`);
}

export class Firewall {
  readonly chains: Chains;
  /** Whether ip6tables works here; when not, IPv6 networks are refused (see requireV6). */
  private v6 = true;

  constructor(prefix: string) {
    this.chains = chainNames(prefix);
  }

  get v6Available(): boolean {
    return this.v6;
  }

  /**
   * Creates (flushing) our chains with exactly `rules` in them, and the jumps into them when
   * missing, in iptables and ip6tables. Used at daemon start: the chains are rebuilt from the
   * persisted state. Without a working ip6tables only IPv4 is set up (and `rules` must have no
   * IPv6 rule).
   */
  async rebuild(rules: Rule[], log?: (msg: string) => void): Promise<void> {
    await this.rebuildFamily(4, rules.filter((r) => !r.v6), log);
    try {
      await this.rebuildFamily(6, rules.filter((r) => r.v6), log);
      this.v6 = true;
    } catch (err) {
      if (rules.some((r) => r.v6)) throw err;
      this.v6 = false;
      log?.(`network: ip6tables unavailable, IPv6 networks are disabled: ${(err as Error).message}`);
    }
  }

  private async rebuildFamily(family: Family, rules: Rule[], log?: (msg: string) => void): Promise<void> {
    const c = this.chains;
    const declare: Record<string, string[]> = { nat: [c.dnat, c.post], filter: [c.forward, c.iso1, c.iso2], raw: [c.raw] };
    const first: Rule[] = [
      { table: 'filter', chain: c.forward, args: `-j ${c.iso1}` },
      // Published ports are for every container, whatever its network (Docker's userland proxy
      // gives that): a DNATed connection, both ways, is exempt from the isolation between bridges.
      { table: 'filter', chain: c.iso1, args: '-m conntrack --ctstate DNAT -j RETURN' },
    ];
    await run(RESTORE[family], ['--noflush'], restoreText([...first, ...rules], '-A', declare));
    for (const j of jumps(c, family)) {
      const spec = j.args.split(' ');
      try {
        await run(TOOL[family], ['-w', '-t', j.table, '-C', j.chain, ...spec]);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        await run(TOOL[family], ['-w', '-t', j.table, j.insert ? '-I' : '-A', j.chain, ...(j.insert ? ['1'] : []), ...spec]);
      }
    }
    // The operator's chain is no part of wharfd's own rules: failing to place it is logged, not fatal.
    await ensureUserChain(family, c.forward).catch((err: Error) => log?.(`network: ${err.message}`));
  }

  async add(rules: Rule[]): Promise<void> {
    for (const family of [4, 6] as const) {
      const rs = rules.filter((r) => familyOf(r) === family);
      if (rs.length) await run(RESTORE[family], ['--noflush'], restoreText(rs, '-A'));
    }
  }

  /** Deletes rules; one missing rule does not keep the others. */
  async remove(rules: Rule[]): Promise<void> {
    for (const family of [4, 6] as const) {
      const rs = rules.filter((r) => familyOf(r) === family);
      if (!rs.length) continue;
      try {
        await run(RESTORE[family], ['--noflush'], restoreText(rs, '-D'));
      } catch {
        for (const r of rs) await run(TOOL[family], ['-w', '-t', r.table, '-D', r.chain, ...r.args.split(' ')]).catch(() => {});
      }
    }
  }

  /**
   * Rules currently in our chains, as `iptables -S` prints them (without the -N lines), each
   * prefixed with its table; ip6tables rules with `ip6 ` before the table.
   */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const family of [4, 6] as const) {
      for (const [t, ch] of chainPairs(this.chains)) {
        const text = await run(TOOL[family], ['-w', '-t', t, '-S', ch]).catch(() => '');
        const prefix = family === 6 ? `ip6 ${t}` : t;
        out.push(...text.split('\n').filter((l) => l.startsWith('-A ')).map((l) => `${prefix} ${l}`));
      }
    }
    return out;
  }

  /** Removes the jumps and the chains of both families (tests, uninstall). */
  async destroy(): Promise<void> {
    const c = this.chains;
    for (const family of [4, 6] as const) {
      const tool = TOOL[family];
      for (const j of jumps(c, family)) {
        await run(tool, ['-w', '-t', j.table, '-D', j.chain, ...j.args.split(' ')]).catch(() => {});
      }
      const pairs = chainPairs(c);
      for (const [t, ch] of pairs) await run(tool, ['-w', '-t', t, '-F', ch]).catch(() => {});
      for (const [t, ch] of pairs) await run(tool, ['-w', '-t', t, '-X', ch]).catch(() => {});
    }
  }
}

/**
 * Makes bridged traffic pass through iptables, as Docker's bridge driver does when containers on a
 * network must not reach each other (enable_icc false): without br_netfilter, frames between two
 * ports of one bridge never meet the FORWARD chain. Loads the module when its switches are missing.
 */
export async function enableBridgeNetfilter(v6: boolean): Promise<void> {
  const files = ['/proc/sys/net/bridge/bridge-nf-call-iptables', ...(v6 ? ['/proc/sys/net/bridge/bridge-nf-call-ip6tables'] : [])];
  const current = () => readFile(files[0]!, 'utf8').catch(() => undefined);
  if ((await current()) === undefined) await run('modprobe', ['br_netfilter']).catch(() => {});
  if ((await current()) === undefined) throw new Error('enable_icc=false needs the br_netfilter kernel module, which could not be loaded');
  for (const p of files) {
    if ((await readFile(p, 'utf8').catch(() => '')).trim() !== '1') await writeFile(p, '1\n');
  }
}

/**
 * IPv6 forwarding on, as Docker turns it on for an IPv6 network; when this changes it, the
 * ip6tables FORWARD policy becomes DROP (Docker's FilterForwardDrop), so the host forwards only
 * what our FORWARD chain accepts.
 */
export async function enableIpv6Forwarding(): Promise<void> {
  let changed = false;
  for (const p of ['/proc/sys/net/ipv6/conf/default/forwarding', '/proc/sys/net/ipv6/conf/all/forwarding']) {
    const cur = (await readFile(p, 'utf8').catch(() => '')).trim();
    if (cur === '1') continue;
    await writeFile(p, '1\n');
    changed = true;
  }
  if (changed) await run('ip6tables', ['-w', '-P', 'FORWARD', 'DROP']);
}
