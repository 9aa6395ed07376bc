#!/usr/bin/env node
/**
 * Bundles wharfd as tsc built it (dist/src/daemon/main.js, the layer extraction worker
 * dist/src/layer/extract-worker.js and the spawn helper dist/src/lib/spawn-server.js, which
 * extract-pool.ts and spawner.ts start by their paths beside them) into dist/daemon/main.js,
 * dist/daemon/extract-worker.js and dist/daemon/spawn-server.js: node loads one ES module instead
 * of ~400 (and gRPC only for the CRI), which is most of a restart's time until /_ping answers
 * (README, Benchmark). Packages in node_modules stay external (native addons, gRPC's proto loading). cri/proto.ts finds proto/
 * from either place. Run by `npm run build`; the test harness runs it when tsc built since.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/daemon');
const result = await build({
  entryPoints: {
    main: join(root, 'dist/src/daemon/main.js'),
    'extract-worker': join(root, 'dist/src/layer/extract-worker.js'),
    'spawn-server': join(root, 'dist/src/lib/spawn-server.js'),
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
