#!/usr/bin/env node
/**
 * `wharf`: runs the bundled CLI (dist/cli/wharf.cjs, made by scripts/bundle-cli.mjs) with the V8
 * code cache made beside it at build time, which spares compiling the bundle at every start.
 * A cache from another node version or bundle is rejected by V8, and the bundle is compiled as usual.
 * Plain CommonJS so that node loads it without the ESM loader.
 */
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, '..', 'dist', 'cli', 'wharf.cjs');
const cacheFile = `${file}.cache`;
const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(source), { filename: file, cachedData });
// The build runs `wharf --help` (every command defined) with this set to write the cache.
if (process.env.WHARF_WRITE_CODE_CACHE === cacheFile) {
  process.once('exit', () => {
    writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData());
    renameSync(`${cacheFile}.${process.pid}`, cacheFile);
  });
}
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(join(file, '..'));
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, join(file, '..'));
