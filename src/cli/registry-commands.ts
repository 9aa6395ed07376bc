/**
 * Registry commands: login, logout, push (and `image push`). Credentials live in Docker's
 * config.json (see docker-config.ts) and go to the daemon as X-Registry-Auth, as the Docker CLI
 * sends them.
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { familiarName, familiarString, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import { usage, type CliContext } from './cli-context.js';
import { configDir } from './config-dir.js';
import { loadConfig, registryAuthFor, saveConfig, serverKey } from './docker-config.js';
import { displayProgress } from './progress.js';

export { configDir, registryAuthFor, serverKey };

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function defineLogin(program: Command, ctx: CliContext): Command {
  const cmd = new Command('login');
  program.addCommand(cmd);
  usage(cmd, 'login [OPTIONS] [SERVER]')
    .description('Authenticate to a registry')
    .argument('[server]')
    .option('-u, --username <string>', 'Username')
    .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .action(async (server: string | undefined, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      let { username, password } = o;
      if (o.password && o.passwordStdin) throw new Error('--password and --password-stdin are mutually exclusive');
      if (o.passwordStdin) {
        if (!username) throw new Error('Must provide --username with --password-stdin');
        password = await readStdin();
      } else if (password) {
        ctx.err.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      }
      if (!username || !password) {
        if (!process.stdin.isTTY) throw new Error('Error: Cannot perform an interactive login from a non TTY device');
        const rl = createInterface({ input: process.stdin, output: ctx.out });
        try {
          username ||= (await rl.question('Username: ')).trim();
          password ||= await rl.question('Password: ');
        } finally {
          rl.close();
        }
      }
      const key = serverKey(server);
      const res = await ctx.client().json<{ Status: string; IdentityToken?: string }>('POST', '/auth', {
        body: { username, password, serveraddress: key },
      });
      const cfg = await loadConfig();
      cfg.auths ??= {};
      cfg.auths[key] = res?.IdentityToken
        ? { auth: Buffer.from(`${username}:`).toString('base64'), identitytoken: res.IdentityToken }
        : { auth: Buffer.from(`${username}:${password}`).toString('base64') };
      await saveConfig(cfg);
      ctx.out.write(`${res?.Status || 'Login Succeeded'}\n`);
    });
  return cmd;
}

export function defineLogout(program: Command, ctx: CliContext): Command {
  const cmd = new Command('logout');
  program.addCommand(cmd);
  usage(cmd, 'logout [SERVER]')
    .description('Log out from a registry')
    .argument('[server]')
    .action(async (server: string | undefined) => {
      const key = serverKey(server);
      const cfg = await loadConfig();
      if (!cfg.auths?.[key]) {
        ctx.out.write(`Not logged in to ${key}\n`);
        return;
      }
      ctx.out.write(`Removing login credentials for ${key}\n`);
      delete cfg.auths[key];
      await saveConfig(cfg);
    });
  return cmd;
}

export function definePush(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('push');
  parent.addCommand(cmd);
  usage(cmd, 'push [OPTIONS] NAME[:TAG]')
    .description('Upload an image to a registry')
    .argument('<name>')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, o: { allTags?: boolean; quiet?: boolean }) => {
      const parsed = parseNormalizedNamed(name);
      if (o.allTags && (parsed.tag || parsed.digest)) throw new Error('tag can\'t be used with --all-tags/-a');
      if (parsed.digest) throw new Error('cannot push a digest reference');
      const ref = o.allTags ? parsed : withDefaultTag(parsed);
      if (!o.allTags && parsed.tag === undefined && !o.quiet) ctx.out.write('Using default tag: latest\n');
      const stream = await ctx.client().jsonStream('POST', `/images/${familiarName(ref)}/push`, {
        query: { tag: ref.tag || undefined },
        headers: { 'X-Registry-Auth': await registryAuthFor(ref) },
      });
      if (o.quiet) {
        for await (const m of stream) if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
        ctx.out.write(`${familiarString(ref)}\n`);
        return;
      }
      await displayProgress(stream, ctx.out);
    });
  return cmd;
}
