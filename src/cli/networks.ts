/** `wharf network create|ls|inspect|rm|prune|connect|disconnect` and `wharf port`, as the Docker CLI has them. */
import { Command } from 'commander';
import { ApiError } from '../client/api-error.js';
import type { EndpointSettings } from '../api/types.js';
import { BIN, collectFilter, FlagError, StatusError, collect, confirm, describeError, intOpt, keyValues, parseFilters, usage, type CliContext } from './cli-context.js';
import { renderRows } from './format/formatter.js';
import { DEFAULT_NETWORK_TABLE, NETWORK_HEADERS, NetworkRow, consolidateIpam, naturalCompare, portLines } from './format/network-format.js';
import { TemplateError } from '../lib/go-template.js';
import { writeInspected } from './format/inspect-output.js';
import { parseGoBool } from '../lib/go-bool.js';

interface CreateOpts {
  driver: string;
  opt?: string[];
  label?: string[];
  internal?: boolean;
  attachable?: boolean;
  ingress?: boolean;
  scope?: string;
  ipv4?: boolean | string;
  ipv6?: boolean | string;
  subnet?: string[];
  ipRange?: string[];
  gateway?: string[];
  auxAddress?: string[];
  ipamDriver: string;
  ipamOpt?: string[];
  configOnly?: boolean;
  configFrom?: string;
}

/**
 * A pflag bool flag declared with an optional value: `--ipv6` is true and `--ipv6=false` false (a
 * value after `=` that is no bool is pflag's error); a value commander took from the next word
 * (`--ipv6 net`) is the NETWORK argument, put back in front of `args`.
 */
function pflagBool(cmd: Command, flag: string, v: boolean | string | undefined, args: string[]): boolean | undefined {
  if (typeof v !== 'string') return v;
  let root = cmd;
  while (root.parent) root = root.parent;
  // commander keeps the words it parsed on the root command (untyped): whether the value came with `=`.
  const words = (root as Command & { rawArgs?: string[] }).rawArgs ?? [];
  if (words.includes(`${flag}=${v}`)) {
    const b = parseGoBool(v);
    if (b === undefined) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
    return b;
  }
  args.unshift(v);
  return true;
}

export function defineCreate(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('create');
  parent.addCommand(cmd);
  usage(cmd, 'create [OPTIONS] NETWORK')
    .description('Create a network')
    .argument('[network]')
    .allowExcessArguments()
    .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
    .option('-o, --opt <map>', 'Set driver specific options', collect)
    .option('--label <list>', 'Set metadata on a network', collect)
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ingress', 'Create swarm routing-mesh network')
    .option('--scope <string>', "Control the network's scope")
    // Optional values so that pflag's `--ipv4=false` works; a NETWORK taken as one (`--ipv6 net`) is given back below.
    .option('--ipv4 [bool]', 'Enable or disable IPv4 address assignment')
    .option('--ipv6 [bool]', 'Enable or disable IPv6 address assignment')
    .option('--subnet <strings>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--ip-range <strings>', 'Allocate container ip from a sub-range', collect)
    .option('--gateway <strings>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
    .option('--aux-address <map>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect)
    .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
    .option('--ipam-opt <map>', 'Set IPAM driver specific options', collect)
    .option('--config-only', 'Create a configuration only network')
    .option('--config-from <string>', 'The network from which to copy the configuration')
    .action(async (_name: string | undefined, o: CreateOpts) => {
      const args = [...cmd.args];
      const ipv6 = pflagBool(cmd, '--ipv6', o.ipv6, args);
      const ipv4 = pflagBool(cmd, '--ipv4', o.ipv4, args);
      if (args.length !== 1) {
        const what = args.length ? 'requires at most 1 argument' : 'requires at least 1 argument';
        throw new StatusError(1, `${BIN}: '${BIN} network create' ${what}\n\nUsage:  ${BIN} network create [OPTIONS] NETWORK\n\nSee '${BIN} network create --help' for more information`);
      }
      const name = args[0]!;
      const config = consolidateIpam(o.subnet ?? [], o.ipRange ?? [], o.gateway ?? [], keyValues(o.auxAddress));
      const res = await ctx.client().networkCreate({
        Name: name,
        Driver: o.driver,
        Options: keyValues(o.opt),
        IPAM: { Driver: o.ipamDriver, Config: config, Options: keyValues(o.ipamOpt) },
        Internal: !!o.internal,
        Attachable: !!o.attachable,
        Ingress: !!o.ingress,
        ...(o.scope ? { Scope: o.scope } : {}),
        ...(ipv4 !== undefined ? { EnableIPv4: ipv4 } : {}),
        ...(ipv6 !== undefined ? { EnableIPv6: ipv6 } : {}),
        ConfigOnly: !!o.configOnly,
        ...(o.configFrom ? { ConfigFrom: { Network: o.configFrom } } : {}),
        Labels: keyValues(o.label),
      });
      if (res.Warning) ctx.err.write(`${res.Warning}\n`);
      ctx.out.write(`${res.Id}\n`);
    });
  return cmd;
}

export function defineLs(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('ls');
  parent.addCommand(cmd);
  usage(cmd, 'ls [OPTIONS]')
    .description('List networks')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collectFilter)
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action(async (o: { filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean }) => {
      const filters = parseFilters(o.filter);
      let format = o.format ?? '';
      if (o.quiet) format = '{{.ID}}';
      else if (format === '' || format === 'table') format = DEFAULT_NETWORK_TABLE;
      const list = await ctx.client().networkList({ filters });
      list.sort((a, b) => naturalCompare(a.Name, b.Name));
      try {
        ctx.out.write(renderRows(format, list.map((n) => new NetworkRow(n, o.trunc !== false)), NETWORK_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
    });
  return cmd;
}

export function defineInspect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('inspect');
  parent.addCommand(cmd);
  usage(cmd, 'inspect [OPTIONS] NETWORK [NETWORK...]')
    .description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action(async (refs: string[], o: { format?: string; verbose?: boolean }) => {
      await writeInspected(ctx, refs, (ref) => ctx.client().networkInspect(ref, { verbose: o.verbose }), o.format);
    });
  return cmd;
}

export function defineRm(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('rm');
  parent.addCommand(cmd);
  usage(cmd, 'rm NETWORK [NETWORK...]')
    .description('Remove one or more networks')
    .argument('<network...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (refs: string[], o: { force?: boolean }) => {
      let status = 0;
      for (const ref of refs) {
        try {
          await ctx.client().networkRemove(ref);
        } catch (err) {
          if (o.force && err instanceof ApiError && err.statusCode === 404) continue;
          ctx.err.write(`${describeError(err)}\n`);
          status = 1;
          continue;
        }
        ctx.out.write(`${ref}\n`);
      }
      // the Docker CLI reports a bare StatusError this way
      if (status) throw new StatusError(status, `exit status ${status}`);
    });
  return cmd;
}

export function definePrune(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('prune');
  parent.addCommand(cmd);
  usage(cmd, 'prune [OPTIONS]')
    .description('Remove all unused networks')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter?: string[]; force?: boolean }) => {
      const question = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';
      if (!o.force && !(await confirm(ctx, question))) return;
      const report = await ctx.client().networkPrune(parseFilters(o.filter));
      const deleted = report.NetworksDeleted ?? [];
      if (deleted.length) ctx.out.write(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    });
  return cmd;
}

export function defineConnect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('connect');
  parent.addCommand(cmd);
  usage(cmd, 'connect [OPTIONS] NETWORK CONTAINER')
    .description('Connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <strings>', 'Add network-scoped alias for the container', collect)
    .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <list>', 'Add link to another container', collect)
    .option('--link-local-ip <strings>', 'Add a link-local address for the container', collect)
    .option('--driver-opt <strings>', 'driver options for the network', collect)
    .option('--gw-priority <int>', 'Highest gw-priority provides the default gateway. Accepts positive and negative values.')
    .action(
      async (
        network: string,
        container: string,
        o: { alias?: string[]; ip?: string; ip6?: string; link?: string[]; linkLocalIp?: string[]; driverOpt?: string[]; gwPriority?: string },
      ) => {
        const gwPriority = intOpt(o.gwPriority, '--gw-priority');
        const cfg: EndpointSettings = {
          IPAMConfig: {
            ...(o.ip ? { IPv4Address: o.ip } : {}),
            ...(o.ip6 ? { IPv6Address: o.ip6 } : {}),
            ...(o.linkLocalIp?.length ? { LinkLocalIPs: o.linkLocalIp } : {}),
          },
          Links: o.link ?? null,
          Aliases: o.alias ?? null,
          ...(o.driverOpt?.length ? { DriverOpts: keyValues(o.driverOpt) } : {}),
          ...(gwPriority ? { GwPriority: gwPriority } : {}),
        };
        await ctx.client().networkConnect(network, container, cfg);
      },
    );
  return cmd;
}

export function defineDisconnect(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('disconnect');
  parent.addCommand(cmd);
  usage(cmd, 'disconnect [OPTIONS] NETWORK CONTAINER')
    .description('Disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (network: string, container: string, o: { force?: boolean }) => {
      await ctx.client().networkDisconnect(network, container, !!o.force);
    });
  return cmd;
}

export function definePort(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('port');
  parent.addCommand(cmd);
  usage(cmd, 'port CONTAINER [PRIVATE_PORT[/PROTO]]')
    .description('List port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[privatePort]')
    .action(async (container: string, privatePort: string | undefined) => {
      const c = await ctx.client().containerInspect(container);
      const lines = portLines(c.NetworkSettings?.Ports, container, privatePort);
      if (lines.length) ctx.out.write(`${lines.join('\n')}\n`);
    });
  return cmd;
}
