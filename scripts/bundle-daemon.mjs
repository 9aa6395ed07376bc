#!/usr/bin/env node
/**
 * Bundles wharfd as tsc built it (dist/src/daemon/main.js, the layer extraction worker
 * dist/src/layer/extract-worker.js and the file tree worker dist/src/containerfs/walk-worker.js,
 * which their pools start by their paths beside them) into dist/daemon/main.js,
 * extract-worker.js and walk-worker.js, three CommonJS files, and compiles the spawn
 * helper src/native/wharf-spawn.c with netlink-links.c (lib/spawner.ts) into dist/daemon/wharf-spawn and the addon
 * src/native/malloc-trim.c (lib/malloc-trim.ts) into dist/daemon/malloc-trim.node, pty-size.c (lib/pty-size.ts)
 * into dist/daemon/pty-size.node, sealed-copy.c (lib/sealed-binary.ts) into dist/daemon/sealed-copy.node and netns-socket.c
 * (lib/netns-socket.ts) into dist/daemon/netns-socket.node: node loads one file
 * instead of ~400 ES modules (and gRPC only for the CRI), which is most of a restart's time until
 * /_ping answers, and never its ES module loader (README, Benchmark). Packages in node_modules stay
 * external (native addons, gRPC's proto loading). cri/proto.ts finds proto/ from either place. Run
 * by `npm run build`; the test harness runs it when tsc built since.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The checkout's commit and its time, as `docker version` shows a build's (none outside git). */
function buildInfo() {
  try {
    const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const gitCommit = git('rev-parse', '--short=7', 'HEAD');
    // Docker's BuildTime: RFC 3339 with nanoseconds, in UTC.
    const buildTime = new Date(Number(git('log', '-1', '--format=%ct')) * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00');
    return { gitCommit, buildTime };
  } catch {
    return {};
  }
}
const outdir = join(root, 'dist/daemon');
const result = await build({
  entryPoints: {
    main: join(root, 'dist/src/daemon/main.js'),
    'extract-worker': join(root, 'dist/src/layer/extract-worker.js'),
    'walk-worker': join(root, 'dist/src/containerfs/walk-worker.js'),
  },
  bundle: true,
  platform: 'node',
  // CommonJS (dist/daemon/package.json says so to node): an ES module entry makes node load its
  // ESM loader, about 3 MB of the idle daemon's RSS. The CRI's import() becomes a lazy
  // initializer in the same file, so gRPC is still required only when the CRI starts.
  format: 'cjs',
  // import() of a package or built-in (ws, node:crypto) becomes a require: a real import() would
  // load the ESM loader all the same.
  supported: { 'dynamic-import': false },
  target: 'node20',
  packages: 'external',
  // The sources' import.meta.url: the bundle file's own, as it was for the ES module bundle.
  define: { 'import.meta.url': 'import_meta_url', 'globalThis.WHARF_BUILD_INFO': JSON.stringify(buildInfo()) },
  // "use strict" first, as ES modules are; esbuild's own comes after the banner, too late to count.
  banner: { js: '"use strict";var import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
  // V8 keeps the source in memory, one byte per character only if all of it is ASCII (a two-byte
  // string is twice the size); comments and indentation are a third of it. Names stay, so stack
  // traces still read.
  charset: 'ascii',
  minifyWhitespace: true,
  write: false,
  outdir,
  logLevel: 'warning',
});
for (const f of result.outputFiles) {
  const wide = f.contents.findIndex((b) => b > 0x7f);
  // esbuild escapes strings but not regular expression literals: write those with \u escapes.
  if (wide >= 0) throw new Error(`bundle-daemon: ${f.path} must be ASCII only; near: ${Buffer.from(f.contents.subarray(Math.max(0, wide - 60), wide + 20)).toString('utf8')}`);
}
const files = [...result.outputFiles.map((f) => ({ path: f.path, contents: f.contents })), { path: join(outdir, 'package.json'), contents: '{ "type": "commonjs" }\n' }];
mkdirSync(outdir, { recursive: true });
// Each file is written aside and renamed, so that a daemon starting meanwhile never reads half of one.
for (const f of files) {
  const tmp = `${f.path}.${process.pid}`;
  writeFileSync(tmp, f.contents, { mode: f.path.endsWith('main.js') ? 0o755 : 0o644 });
  renameSync(tmp, f.path);
}
// The ES module bundles' shared chunks, from builds before the daemon was bundled as CommonJS.
rmSync(join(outdir, 'chunks'), { recursive: true, force: true });

/**
 * Compiles src/native/<source> into dist/daemon/<out> when the source is newer. Written aside and
 * renamed, as above. An optional one that cannot be built is left out with a warning (the daemon
 * runs without it and says so).
 */
function compileNative(source, out, what, flags, { optional = false, also = [] } = {}) {
  const src = join(root, 'src/native', source);
  const others = also.map((f) => join(root, 'src/native', f));
  const dest = join(outdir, out);
  const newest = Math.max(...[src, ...others].map((f) => statSync(f).mtimeMs));
  if (existsSync(dest) && statSync(dest).mtimeMs >= newest) return;
  const cc = process.env.CC || 'cc';
  const tmp = `${dest}.${process.pid}`;
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-std=gnu11', ...flags, '-o', tmp, src, ...others.filter((f) => f.endsWith('.c'))], { stdio: 'inherit' });
  } catch (err) {
    rmSync(tmp, { force: true });
    const why = err.code === 'ENOENT' ? `no C compiler (${cc}); install gcc and libc6-dev (scripts/deps.sh does)` : err.message;
    console.error(`bundle-daemon: cannot build ${what} ${src}: ${why}`);
    if (!optional) process.exit(1);
    // Not one built from an older source either (the harness would try again for every test file).
    rmSync(dest, { force: true });
    return;
  }
  renameSync(tmp, dest);
}

compileNative('wharf-spawn.c', 'wharf-spawn', 'the spawn helper', [], { also: ['netlink-links.c', 'netlink-links.h'] });
// A Node-API addon, against the headers node installs under <prefix>/include/node (Debian's own
// nodejs has them in libnode-dev). Optional: without it freed memory stays resident after a pull.
const addonFlags = ['-shared', '-fPIC', '-I', join(dirname(dirname(process.execPath)), 'include', 'node')];
compileNative('malloc-trim.c', 'malloc-trim.node', 'the malloc_trim addon', addonFlags, { optional: true });
// Optional too: without it a resize goes through conmon's ctl fifo and lands a moment later.
compileNative('pty-size.c', 'pty-size.node', 'the pty size addon', addonFlags, { optional: true });
// Optional: without it runc copies itself at every create and exec, as it does under Docker.
compileNative('sealed-copy.c', 'sealed-copy.node', 'the sealed copy addon', addonFlags, { optional: true });
// Optional: without it a container on a macvlan or ipvlan network alone gets no embedded DNS.
compileNative('netns-socket.c', 'netns-socket.node', 'the netns socket addon', addonFlags, { optional: true });
// The node spawn helper of earlier builds.
rmSync(join(outdir, 'spawn-server.js'), { force: true });
