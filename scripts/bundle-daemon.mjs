#!/usr/bin/env node
/**
 * Bundles wharfd as tsc built it (dist/src/daemon/main.js and the layer extraction worker
 * dist/src/layer/extract-worker.js, which extract-pool.ts starts by its path beside it) into
 * dist/daemon/main.js and dist/daemon/extract-worker.js, and compiles the spawn helper
 * src/native/wharf-spawn.c (lib/spawner.ts) into dist/daemon/wharf-spawn: node loads one ES module instead
 * of ~400 (and gRPC only for the CRI), which is most of a restart's time until /_ping answers
 * (README, Benchmark). Packages in node_modules stay external (native addons, gRPC's proto loading). cri/proto.ts finds proto/
 * from either place. Run by `npm run build`; the test harness runs it when tsc built since.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/daemon');
const result = await build({
  entryPoints: {
    main: join(root, 'dist/src/daemon/main.js'),
    'extract-worker': join(root, 'dist/src/layer/extract-worker.js'),
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  // What a dynamic import loads (the CRI with gRPC) stays in a chunk of its own, loaded only then.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  write: false,
  outdir,
  logLevel: 'warning',
});
mkdirSync(join(outdir, 'chunks'), { recursive: true });
// Each file is written aside and renamed, so that a daemon starting meanwhile never reads half of one.
for (const f of result.outputFiles) {
  const tmp = `${f.path}.${process.pid}`;
  writeFileSync(tmp, f.contents, { mode: f.path.endsWith('main.js') ? 0o755 : 0o644 });
  renameSync(tmp, f.path);
}
// Chunks of earlier builds go after the new files are in place (names are content hashes, so a
// bundle being written at the same time by another process has the same ones).
const current = new Set(result.outputFiles.map((f) => f.path));
for (const name of readdirSync(join(outdir, 'chunks'))) {
  const p = join(outdir, 'chunks', name);
  if (!current.has(p) && !/\.\d+$/.test(name)) rmSync(p, { force: true });
}

// The spawn helper, compiled again when its source is newer. Written aside and renamed, as above.
const helperSrc = join(root, 'src/native/wharf-spawn.c');
const helper = join(outdir, 'wharf-spawn');
if (!existsSync(helper) || statSync(helper).mtimeMs < statSync(helperSrc).mtimeMs) {
  const cc = process.env.CC || 'cc';
  const tmp = `${helper}.${process.pid}`;
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', tmp, helperSrc], { stdio: 'inherit' });
  } catch (err) {
    rmSync(tmp, { force: true });
    const why = err.code === 'ENOENT' ? `no C compiler (${cc}); install gcc and libc6-dev (scripts/deps.sh does)` : err.message;
    console.error(`bundle-daemon: cannot build the spawn helper ${helperSrc}: ${why}`);
    process.exit(1);
  }
  renameSync(tmp, helper);
}
// The node spawn helper of earlier builds.
rmSync(join(outdir, 'spawn-server.js'), { force: true });
