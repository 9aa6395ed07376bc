#!/usr/bin/env node
/**
 * Bundles the CLI as tsc built it (dist/src/cli/main.js) into one CommonJS file, dist/cli/wharf.cjs,
 * and makes V8's code cache for it (dist/cli/wharf.cjs.cache) by running `wharf --help` once through
 * bin/wharf.cjs. One file instead of ~40 ES modules halves the CLI's start-up; the cache saves most of
 * the compile (see the README's Benchmark section). Run by `npm run build`, scripts/test.sh, bench.sh
 * and setup.sh; the test harness runs it when the bundle is older than the tsc build.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
mkdirSync(dirname(out), { recursive: true });
// Written aside and renamed, so that a CLI starting meanwhile never reads half a bundle.
const tmp = `${out}.${process.pid}`;
writeFileSync(tmp, result.outputFiles[0].contents, { mode: 0o755 });
rmSync(`${out}.cache`, { force: true });
renameSync(tmp, out);
execFileSync(process.execPath, [join(root, 'bin/wharf.cjs'), '--help'], { env: { ...process.env, WHARF_WRITE_CODE_CACHE: `${out}.cache` }, stdio: 'ignore' });
