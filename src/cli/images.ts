/** Image commands: images, pull, import, load, save, rmi, tag. */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { Command } from 'commander';
import { familiarString, fullName, parseNormalizedNamed, withDefaultTag } from '../image/reference.js';
import { collectFilter, StatusError, collect, forEachArg, parseFilters, usage, type CliContext } from './cli-context.js';
import { DEFAULT_IMAGE_TABLE, DEFAULT_IMAGE_TABLE_DIGEST, IMAGE_HEADERS, imageRows, renderRows } from './format/formatter.js';
import { TemplateError } from '../lib/go-template.js';
import { registryAuthFor } from './docker-config.js';
import { displayProgress } from './progress.js';


/** Pulls `image` rendering progress to `out` (Docker's pullImage for run/create). */
export async function pullImage(
  ctx: CliContext,
  image: string,
  opts: { quiet?: boolean; platform?: string; out: NodeJS.WriteStream },
): Promise<void> {
  const ref = withDefaultTag(parseNormalizedNamed(image));
  const auth = await registryAuthFor(ref);
  const stream = await ctx.client().imagePull(fullName(ref), { tag: ref.digest ?? ref.tag, platform: opts.platform, auth });
  if (opts.quiet) {
    for await (const m of stream) {
      if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
    }
    return;
  }
  await displayProgress(stream, opts.out);
}

export function defineImages(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS] [REPOSITORY[:TAG]]`)
    .description('List images')
    .argument('[repository]')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collectFilter)
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (repository: string | undefined, o: { all?: boolean; digests?: boolean; filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean }) => {
      const filters = parseFilters(o.filter);
      if (repository) (filters.reference ??= []).push(repository);
      let format = o.format ?? '';
      if (o.quiet) format = '{{.ID}}';
      else if (format === '' || format === 'table') format = o.digests ? DEFAULT_IMAGE_TABLE_DIGEST : DEFAULT_IMAGE_TABLE;
      const list = await ctx.client().imageList({ all: o.all, filters, digests: o.digests });
      const rows = imageRows(list, { trunc: o.trunc !== false, digest: !!o.digests, needDigest: !!o.digests || format.includes('{{.Digest}}') });
      let out: string;
      try {
        out = renderRows(format, rows, IMAGE_HEADERS);
      } catch (err) {
        if (err instanceof TemplateError) throw new Error(`template parsing error: ${err.message}`);
        throw err;
      }
      if (o.quiet) {
        // -q lists each image once
        out = [...new Set(out.split('\n').filter(Boolean))].map((l) => `${l}\n`).join('');
      }
      ctx.out.write(out);
    });
  return cmd;
}

export function definePull(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('pull');
  parent.addCommand(cmd);
  usage(cmd, 'pull [OPTIONS] NAME[:TAG|@DIGEST]')
    .description('Download an image from a registry')
    .argument('<name>')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress verbose output')
    .action(async (name: string, o: { quiet?: boolean; platform?: string; allTags?: boolean }) => {
      const parsed = parseNormalizedNamed(name);
      if (o.allTags && (parsed.tag || parsed.digest)) throw new Error('tag can\'t be used with --all-tags/-a');
      const ref = o.allTags ? parsed : withDefaultTag(parsed);
      if (!o.allTags && parsed.tag === undefined && parsed.digest === undefined && !o.quiet) {
        ctx.out.write('Using default tag: latest\n');
      }
      const auth = await registryAuthFor(ref);
      const stream = await ctx.client().imagePull(fullName(ref), { tag: ref.digest ?? ref.tag, platform: o.platform, auth });
      if (o.quiet) {
        for await (const m of stream) if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
      } else {
        await displayProgress(stream, ctx.out);
      }
      ctx.out.write(`${o.allTags ? fullName(ref) : `${fullName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`}\n`);
    });
  return cmd;
}

export function defineImport(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('import');
  parent.addCommand(cmd);
  usage(cmd, 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]')
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<source>')
    .argument('[reference]')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect)
    .option('-m, --message <string>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .action(async (source: string, reference: string | undefined, o: { change?: string[]; message?: string; platform?: string }) => {
      let repo: string | undefined;
      let tag: string | undefined;
      if (reference) {
        const ref = parseNormalizedNamed(reference);
        repo = familiarString({ ...ref, tag: undefined, digest: undefined });
        tag = ref.tag;
        if (ref.digest) throw new Error('cannot import digest reference');
      }
      // As the Docker CLI: an http(s) URL is fetched by the daemon.
      const input = /^https?:\/\//.test(source) ? source : source === '-' ? process.stdin : await openFile(source);
      const stream = await ctx.client().imageImport(input, { repo, tag, changes: o.change, message: o.message, platform: o.platform });
      await displayProgress(stream, ctx.out);
    });
  return cmd;
}

/** A file to send, opened before the request so that a missing one is the CLI's own error. */
async function openFile(path: string): Promise<ReadStream> {
  const input = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'ENOENT' ? `open ${path}: no such file or directory` : err.message)));
  });
  return input;
}

export function defineLoad(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('load');
  parent.addCommand(cmd);
  usage(cmd, 'load [OPTIONS]')
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <string>', 'Read from tar archive file, instead of STDIN')
    .option('--platform <list>', 'Load only the given platform(s)', collect)
    .option('-q, --quiet', 'Suppress the load output')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      let input: NodeJS.ReadableStream;
      if (o.input) {
        input = await openFile(o.input);
      } else {
        if (process.stdin.isTTY) throw new Error('requested load from stdin, but stdin is empty');
        input = process.stdin;
      }
      const quiet = o.quiet || !ctx.out.isTTY;
      const stream = await ctx.client().imageLoad(input as import('node:stream').Readable, { quiet });
      await displayProgress(stream, ctx.out);
    });
  return cmd;
}

export function defineSave(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('save');
  parent.addCommand(cmd);
  usage(cmd, 'save [OPTIONS] IMAGE [IMAGE...]')
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<images...>')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .option('--platform <list>', 'Save only the given platform(s)', collect)
    .action(async (images: string[], o: { output?: string }) => {
      if (!o.output && ctx.out.isTTY) {
        throw new Error('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      }
      const body = await ctx.client().imageSave(images);
      const dest = o.output ? createWriteStream(o.output) : ctx.out;
      await new Promise<void>((resolve, reject) => {
        body.on('error', reject);
        dest.on('error', reject);
        if (o.output) {
          dest.on('finish', () => resolve());
          body.pipe(dest);
        } else {
          body.on('data', (d: Buffer) => ctx.out.write(d));
          body.on('end', () => resolve());
        }
      });
    });
  return cmd;
}

export function defineRmi(parent: Command, ctx: CliContext, name: string): Command {
  const cmd = new Command(name);
  parent.addCommand(cmd);
  usage(cmd, `${name} [OPTIONS] IMAGE [IMAGE...]`)
    .description('Remove one or more images')
    .argument('<images...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .action(async (images: string[], o: { force?: boolean; prune?: boolean }) => {
      const client = ctx.client();
      await forEachArg(ctx, images, async (img) => {
        const items = await client.imageRemove(img, { force: o.force, noprune: o.prune === false });
        for (const it of items ?? []) {
          if (it.Untagged) ctx.out.write(`Untagged: ${it.Untagged}\n`);
          if (it.Deleted) ctx.out.write(`Deleted: ${it.Deleted}\n`);
        }
      });
    });
  return cmd;
}

export function defineTag(parent: Command, ctx: CliContext): Command {
  const cmd = new Command('tag');
  parent.addCommand(cmd);
  usage(cmd, 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>')
    .argument('<target>')
    .action(async (source: string, target: string) => {
      const ref = parseNormalizedNamed(target);
      if (ref.digest) throw new Error('refusing to create a tag with a digest reference');
      await ctx.client().imageTag(source, fullName(ref), ref.tag ?? 'latest');
    });
  return cmd;
}

export { StatusError };
