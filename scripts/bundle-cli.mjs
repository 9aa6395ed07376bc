#!/usr/bin/env node
/**
 * Bundles the CLI as tsc built it (dist/src/cli/main.js) into one CommonJS file, dist/cli/wharf.cjs,
 * and makes V8's code caches for it by running it through bin/wharf.cjs: dist/cli/wharf.cjs.cache
 * from `wharf --help` (every command defined), and dist/cli/wharf.cjs.<command>.cache for each of
 * HOT_COMMANDS (what that command compiles up to its request, made against no daemon). One file
 * instead of ~40 ES modules halves the CLI's start-up; the cache saves most of the compile (see the
 * README's Benchmark section). Run by `npm run build`, scripts/test.sh, bench.sh and setup.sh; the
 * test harness runs it when the bundle is older than the tsc build.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/cli/wharf.cjs');
const result = await build({
  entryPoints: [join(root, 'dist/src/cli/main.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Whitespace and syntax only: names stay, so stack traces still read. Less to read and cache.
  minifyWhitespace: true,
  minifySyntax: true,
  // ASCII only, so that bin/wharf.cjs reads it as latin1 (no utf8 decoding); checked below.
  charset: 'ascii',
  write: false,
  outfile: out,
  // A native addon (cp's extractor sets xattrs with it): loaded from node_modules at run time.
  external: ['@napi-rs/xattr'],
  // import() of a built-in (node:https…) becomes a require: the bundle runs in a vm.Script (bin/wharf.cjs), which has no ESM loader.
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  plugins: [
    {
      // commander requires node:child_process at load for executable sub-commands, which wharf has
      // none of; loading it (with dgram and its socket list) only if one ever runs spares every start.
      name: 'lazy-child-process-in-commander',
      setup(b) {
        b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
          const text = readFileSync(args.path, 'utf8');
          const eager = "const childProcess = require('node:child_process');";
          if (!text.includes(eager)) throw new Error(`bundle-cli: ${args.path} no longer has: ${eager}`);
          return { contents: text.replace(eager, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
        });
      },
    },
  ],
});
const bundle = result.outputFiles[0].contents;
const wide = bundle.findIndex((b) => b > 0x7f);
if (wide >= 0) {
  const at = Buffer.from(bundle.subarray(Math.max(0, wide - 60), wide + 20)).toString('utf8');
  throw new Error(`bundle-cli: the bundle must be ASCII only (bin/wharf.cjs reads it as latin1); write \\u escapes instead of: ${at}`);
}
mkdirSync(dirname(out), { recursive: true });
// Written aside and renamed, so that a CLI starting meanwhile never reads half a bundle.
const tmp = `${out}.${process.pid}`;
writeFileSync(tmp, bundle, { mode: 0o755 });
for (const f of readdirSync(dirname(out))) if (f.startsWith('wharf.cjs.') && f.endsWith('.cache')) rmSync(join(dirname(out), f), { force: true });
renameSync(tmp, out);

// The commands scripts and users run most; each of their caches holds what it compiles (~200 KB,
// against ~350 KB for everything) and saves it 2-4 ms of start-up. The rest use --help's.
const HOT_COMMANDS = [['version'], ['ps', '-a'], ['run', '--rm', 'busybox', 'true'], ['images'], ['exec', 'c', 'true'], ['inspect', 'c'], ['rm', '-f', 'c'], ['logs', 'c'], ['start', 'c'], ['stop', 'c']];
// Against no daemon and no config: nothing of the user's is read, and the run ends at the request.
const empty = mkdtempSync(join(tmpdir(), 'wharf-cache-'));
try {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DOCKER|WHARF)_/.test(k)));
  Object.assign(env, { DOCKER_HOST: `unix://${join(empty, 'none.sock')}`, DOCKER_CONFIG: empty, HOME: empty });
  const make = (argv, cache) => promisify(execFile)(process.execPath, [join(root, 'bin/wharf.cjs'), ...argv], { env: { ...env, WHARF_WRITE_CODE_CACHE: cache } }).catch((err) => {
    if (typeof err.code !== 'number') throw err; // a command failing (no daemon) is expected
  });
  await Promise.all([make(['--help'], `${out}.cache`), ...HOT_COMMANDS.map((argv) => make(argv, `${out}.${argv[0]}.cache`))]);
} finally {
  rmSync(empty, { recursive: true, force: true });
}
