#!/bin/sh
':' //; if [ -n "$NODE_EXTRA_CA_CERTS" ]; then export WHARF_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
/**
 * `wharf`: runs the bundled CLI (dist/cli/wharf.cjs, made by scripts/bundle-cli.mjs) with a V8 code
 * cache made beside it at build time, which spares compiling the bundle at every start. The build
 * makes one cache per hot command (`wharf.cjs.<command>.cache`: what that command compiles, less
 * to load than everything) and one from `wharf --help` (`wharf.cjs.cache`) for the others.
 * A cache from another node version or bundle is rejected by V8, and the bundle is compiled as usual.
 * Plain CommonJS so that node loads it without the ESM loader.
 *
 * Run as a program, the file is first a shell script (line 2; to node, a string and a comment),
 * which costs what `#!/usr/bin/env node` did: it takes NODE_EXTRA_CA_CERTS out of node's start, where
 * node would parse that CA file every time (30 ms and more, twice what wharf's own start costs),
 * and hands it over as WHARF_NODE_EXTRA_CA_CERTS. It goes back into the environment below, for
 * the processes wharf runs and for the TLS code, which reads it only to verify a daemon
 * (src/client/engine-client.ts).
 */
'use strict';
if (process.env.WHARF_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS ??= process.env.WHARF_NODE_EXTRA_CA_CERTS;
  delete process.env.WHARF_NODE_EXTRA_CA_CERTS;
}
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
// node:module's Module; require('node:module') would load the ESM loader's modules as well.
const Module = module.constructor;

const file = join(__dirname, '..', 'dist', 'cli', 'wharf.cjs');
// The global flags that take a value, as wharf has them: skipped to find the command's name.
const VALUE_FLAGS = new Set(['--config', '-c', '--context', '-H', '--host', '-l', '--log-level', '--tlscacert', '--tlscert', '--tlskey']);

/** The command argv names, if it is a plain word (so a file name part), else undefined. */
function commandName(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (VALUE_FLAGS.has(argv[i])) i++;
    else if (!argv[i].startsWith('-')) return /^[a-z]+$/.test(argv[i]) ? argv[i] : undefined;
  }
  return undefined;
}

function readCache(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

// The bundle is ASCII only (bundle-cli.mjs checks): latin1 gives the string utf8 would, without decoding.
const source = readFileSync(file, 'latin1').replace(/^#!.*/, '');
const name = commandName(process.argv.slice(2));
const cachedData = (name && readCache(`${file}.${name}.cache`)) || readCache(`${file}.cache`);
const script = new Script(Module.wrap(source), { filename: file, cachedData });
// The build runs wharf with this set to the cache file to write (one of the names above, nothing else).
const writeTo = process.env.WHARF_WRITE_CODE_CACHE;
if (writeTo && writeTo.startsWith(`${file}.`) && /^([a-z]+\.)?cache$/.test(writeTo.slice(file.length + 1))) {
  process.once('exit', () => {
    writeFileSync(`${writeTo}.${process.pid}`, script.createCachedData());
    renameSync(`${writeTo}.${process.pid}`, writeTo);
  });
}
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(join(file, '..'));
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, join(file, '..'));
