/** System commands: version, info, inspect. */
import { Command } from 'commander';
import { ApiError } from '../client/api-error.js';
import { CLIENT_MAX_API_VERSION } from '../client/engine-client.js';
import { CLI_VERSION, StatusError, describeError, usage, type CliContext, type DefineCommand } from './cli-context.js';
import { Template, TemplateError, templateSource } from '../lib/go-template.js';
import { writeInspectOutput } from './format/inspect-output.js';
import { bytesSize } from './format/units.js';

export { CLI_VERSION };

/**
 * `version -f` / `info -f` as the Docker CLI: the data is a Go struct (an unknown field is an
 * error naming its type), a template that does not parse is exit 64 ("template parsing error:
 * …"), one that fails prints a blank line and the bare Go error, exit 1.
 */
function renderTemplate(ctx: CliContext, format: string, data: object, go: { name: string; type: string }): void {
  let tmpl: Template;
  try {
    tmpl = new Template(templateSource(format), { name: go.name });
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(64, `template parsing error: ${err.message}`);
    throw err;
  }
  const dot = Object.assign(Object.create({ templateTypeName: () => go.type }) as object, data);
  try {
    ctx.out.write(`${tmpl.execute(dot)}\n`);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    ctx.out.write('\n');
    throw new StatusError(1, err.message);
  }
}

export function defineVersion(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('version');
  parent.addCommand(cmd);
  usage(cmd, 'version [OPTIONS]')
    .description('Show the Docker version information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (o: { format?: string }) => {
      const client = {
        Platform: { Name: '' },
        Version: CLI_VERSION,
        ApiVersion: CLIENT_MAX_API_VERSION,
        DefaultAPIVersion: CLIENT_MAX_API_VERSION,
        GitCommit: 'unknown',
        GoVersion: `node${process.versions.node}`,
        Os: process.platform,
        Arch: process.arch === 'x64' ? 'amd64' : process.arch,
        BuildTime: '',
        Context: 'default',
      };
      let server: Awaited<ReturnType<ReturnType<CliContext['client']>['version']>> | undefined;
      let serverErr: unknown;
      try {
        const api = ctx.client();
        server = await api.version();
        client.ApiVersion = await api.negotiatedVersion();
      } catch (err) {
        serverErr = err;
      }
      if (o.format) {
        renderTemplate(ctx, o.format, { Client: client, Server: server ?? null }, { name: 'version', type: 'system.versionInfo' });
        if (serverErr) throw serverErr;
        return;
      }
      let text =
        'Client:\n' +
        ` Version:           ${client.Version}\n` +
        ` API version:       ${client.ApiVersion}\n` +
        ` Go version:        ${client.GoVersion}\n` +
        ` Git commit:        ${client.GitCommit}\n` +
        ` Built:             ${client.BuildTime}\n` +
        ` OS/Arch:           ${client.Os}/${client.Arch}\n` +
        ` Context:           ${client.Context}\n`;
      if (server) {
        text += `\nServer:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}\n`;
        for (const c of server.Components ?? []) {
          text += ` ${c.Name}:\n  Version:          ${c.Version}\n`;
          const d = c.Details ?? {};
          if (c.Name === 'Engine') {
            text += `  API version:      ${d.ApiVersion ?? server.ApiVersion} (minimum version ${d.MinAPIVersion ?? server.MinAPIVersion})\n`;
            text += `  Go version:       ${d.GoVersion ?? server.GoVersion}\n`;
            text += `  Git commit:       ${d.GitCommit ?? server.GitCommit}\n`;
            text += `  Built:            ${d.BuildTime ?? server.BuildTime}\n`;
            text += `  OS/Arch:          ${d.Os ?? server.Os}/${d.Arch ?? server.Arch}\n`;
            text += `  Experimental:     ${d.Experimental ?? String(server.Experimental ?? false)}\n`;
          } else {
            for (const [k, v] of Object.entries(d)) text += `  ${`${k}:`.padEnd(18)}${v}\n`;
          }
        }
      }
      ctx.out.write(text);
      if (serverErr) throw serverErr;
    });
  return cmd;
}

export function defineInfo(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('info');
  parent.addCommand(cmd);
  usage(cmd, 'info [OPTIONS]')
    .description('Display system-wide information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (o: { format?: string }) => {
      const info = await ctx.client().info();
      if (o.format) {
        renderTemplate(ctx, o.format, info, { name: '', type: 'system.dockerInfo' });
        return;
      }
      const i = info as Record<string, unknown>;
      const line = (k: string, v: unknown) => ` ${k}: ${v ?? ''}\n`;
      let text = 'Client:\n' + line('Version', CLI_VERSION) + line('Context', 'default') + line('Debug Mode', false) + '\nServer:\n';
      text += line('Containers', i.Containers);
      text += `  Running: ${i.ContainersRunning}\n  Paused: ${i.ContainersPaused}\n  Stopped: ${i.ContainersStopped}\n`;
      text += line('Images', i.Images);
      text += line('Server Version', i.ServerVersion);
      text += line('Storage Driver', i.Driver);
      text += line('Logging Driver', i.LoggingDriver);
      text += line('Cgroup Driver', i.CgroupDriver);
      text += line('Cgroup Version', i.CgroupVersion);
      const runtimes = Object.keys((i.Runtimes as Record<string, unknown>) ?? {});
      text += line('Runtimes', runtimes.join(' '));
      text += line('Default Runtime', i.DefaultRuntime);
      text += line('Kernel Version', i.KernelVersion);
      text += line('Operating System', i.OperatingSystem);
      text += line('OSType', i.OSType);
      text += line('Architecture', i.Architecture);
      text += line('CPUs', i.NCPU);
      text += line('Total Memory', bytesSize(Number(i.MemTotal ?? 0)));
      text += line('Name', i.Name);
      text += line('ID', i.ID);
      text += line('Docker Root Dir', i.DockerRootDir);
      text += line('Debug Mode', i.Debug ?? false);
      text += line('Experimental', i.ExperimentalBuild ?? false);
      text += line('Live Restore Enabled', i.LiveRestoreEnabled);
      ctx.out.write(text);
      for (const w of (i.Warnings as string[] | null | undefined) ?? []) ctx.err.write(`${w}\n`);
    });
  return cmd;
}

type InspectType = 'container' | 'image';

function defineInspectLike(parent: Command, ctx: CliContext, name: string, fixedType?: InspectType): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  const what = fixedType === 'container' ? 'CONTAINER [CONTAINER...]' : fixedType === 'image' ? 'IMAGE [IMAGE...]' : 'NAME|ID [NAME|ID...]';
  usage(cmd, `${name} [OPTIONS] ${what}`)
    .description(fixedType ? `Display detailed information on one or more ${fixedType}s` : 'Return low-level information on Docker objects')
    .argument('<names...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-s, --size', 'Display total file sizes if the type is container')
    .action(async (names: string[], o: { format?: string; size?: boolean; type?: string }) => {
      const type = (fixedType ?? o.type) as InspectType | undefined;
      if (type && type !== 'container' && type !== 'image') {
        throw new Error(`"${type}" is not a valid value for --type`);
      }
      const client = ctx.client();
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        try {
          if (type === 'container') found.push(await client.containerInspect(n, { size: o.size }));
          else if (type === 'image') found.push(await client.imageInspect(n));
          else {
            try {
              found.push(await client.containerInspect(n, { size: o.size }));
            } catch (err) {
              if (!(err instanceof ApiError && err.statusCode === 404)) throw err;
              try {
                found.push(await client.imageInspect(n));
              } catch (err2) {
                if (err2 instanceof ApiError && err2.statusCode === 404) throw new Error(`No such object: ${n}`);
                throw err2;
              }
            }
          }
        } catch (err) {
          if (err instanceof ApiError && err.statusCode === 404) errors.push(`Error: ${err.message}`);
          else if (err instanceof ApiError) errors.push(describeError(err));
          else errors.push(`Error: ${(err as Error).message}`);
        }
      }
      writeInspectOutput(ctx, found, o.format, errors);
    });
  if (!fixedType) cmd.option('--type <string>', 'Only inspect objects of the given type');
  return cmd;
}

export const defineInspect: DefineCommand = (parent, ctx) => defineInspectLike(parent, ctx, 'inspect');
export const defineContainerInspect: DefineCommand = (parent, ctx) => defineInspectLike(parent, ctx, 'inspect', 'container');
export const defineImageInspect: DefineCommand = (parent, ctx) => defineInspectLike(parent, ctx, 'inspect', 'image');
