#!/usr/bin/env node
/**
 * Bundles the CLI as tsc built it (dist/src/cli/main.js) into one CommonJS file, dist/cli/wharf.cjs,
 * and makes V8's code caches for it by running it through bin/wharf.cjs: dist/cli/wharf.cjs.cache
 * from `wharf --help` (every command defined), and dist/cli/wharf.cjs.<command>.cache for each of
 * HOT_COMMANDS (what that command compiles, made against a stand-in daemon). One file
 * instead of ~40 ES modules halves the CLI's start-up; the cache saves most of the compile (see the
 * README's Benchmark section). Run by `npm run build`, scripts/test.sh, bench.sh and setup.sh; the
 * test harness runs it when the bundle is older than the tsc build.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

/**
 * What the commands above are made against: a stand-in for the daemon on a unix socket that answers
 * version, ps and images with one entry each (so their output code is compiled and cached too:
 * 3 ms of `ps`), create with an ID, and anything else with a 404, where those commands end.
 */
function standInDaemon(socketPath) {
  const created = '2026-01-01T00:00:00Z';
  const answers = {
    'GET /_ping': 'OK',
    'GET /v1.50/version': { Platform: { Name: 'wharf' }, Components: [{ Name: 'Engine', Version: '0.1.0', Details: { ApiVersion: '1.50', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' } }], Version: '0.1.0', ApiVersion: '1.50', MinAPIVersion: '1.24', GitCommit: '', GoVersion: 'node', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1.0', BuildTime: created },
    'GET /v1.50/containers/json?all=1': [{ Id: 'c'.repeat(64), Names: ['/c'], Image: 'busybox', ImageID: `sha256:${'b'.repeat(64)}`, Command: 'true', Created: 1767225600, Ports: [{ PrivatePort: 80, Type: 'tcp' }], Labels: {}, State: 'exited', Status: 'Exited (0) 1 second ago', HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Networks: {} }, Mounts: [] }],
    'GET /v1.50/images/json': [{ Id: `sha256:${'b'.repeat(64)}`, ParentId: '', RepoTags: ['busybox:latest'], RepoDigests: [], Created: 1767225600, Size: 4261550, SharedSize: -1, VirtualSize: 4261550, Labels: {}, Containers: -1 }],
    'POST /v1.50/containers/create': { Id: 'c'.repeat(64), Warnings: [] },
  };
  const server = createServer((sock) => {
    let head = '';
    sock.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const [method, path] = head.split(' ');
      const found = answers[`${method} ${path}`];
      const body = found === undefined ? JSON.stringify({ message: 'No such object: c' }) : typeof found === 'string' ? found : JSON.stringify(found);
      const status = found === undefined ? '404 Not Found' : method === 'POST' ? '201 Created' : '200 OK';
      sock.end(`HTTP/1.1 ${status}\r\nApi-Version: 1.50\r\nOstype: linux\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => server.listen(socketPath, () => resolve(server)).on('error', reject));
}

// No config of the user's is read, and nothing reaches a real daemon.
const empty = mkdtempSync(join(tmpdir(), 'wharf-cache-'));
const daemon = await standInDaemon(join(empty, 'd.sock'));
try {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DOCKER|WHARF)_/.test(k)));
  Object.assign(env, { DOCKER_HOST: `unix://${join(empty, 'd.sock')}`, DOCKER_CONFIG: empty, HOME: empty });
  const make = (argv, cache) => promisify(execFile)(process.execPath, [join(root, 'bin/wharf.cjs'), ...argv], { env: { ...env, WHARF_WRITE_CODE_CACHE: cache } }).catch((err) => {
    if (typeof err.code !== 'number') throw err; // a command failing (on a 404) is expected
  });
  await Promise.all([make(['--help'], `${out}.cache`), ...HOT_COMMANDS.map((argv) => make(argv, `${out}.${argv[0]}.cache`))]);
} finally {
  daemon.close();
  rmSync(empty, { recursive: true, force: true });
}
