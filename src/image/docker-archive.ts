/**
 * docker-archive tarballs (`docker save` / `docker load`).
 *
 * Reading accepts what Docker 25–28 writes (an OCI image layout — oci-layout, index.json,
 * blobs/sha256/… — that also carries manifest.json), the older pure docker-archive
 * (manifest.json + <id>.json + <dir>/layer.tar, with symlinks for shared layers) and a plain OCI
 * layout without manifest.json. The archive is unpacked into a private temp dir first because
 * manifest.json may come after the blobs it names; symlinks are never created on disk, only
 * followed logically inside the archive.
 *
 * Writing produces Docker 28's layout so the real `docker load` accepts it.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { invalidParameter } from '../lib/errors.js';
import { decompressed } from '../layer/decompress.js';
import { layerRelativePath } from '../layer/extract.js';
import { hexOf, sha256Digest } from '../layer/chain-id.js';
import { TarReader } from '../layer/tar-reader.js';
import { familiarName, familiarString, fullString, parseNormalizedNamed, type Reference } from './reference.js';

export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export interface ArchiveManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** An unpacked archive: files by their path inside it. */
export class UnpackedArchive {
  private readonly links = new Map<string, string>();

  constructor(readonly dir: string) {}

  static async unpack(src: Readable, dir: string): Promise<UnpackedArchive> {
    const archive = new UnpackedArchive(dir);
    const { stream } = await decompressed(src);
    const reader = new TarReader(stream);
    for await (const entry of reader.entries()) {
      const h = entry.header;
      const rel = layerRelativePath(h.name);
      if (rel === '') {
        await entry.skip();
        continue;
      }
      if (h.type === 'symlink' || h.type === 'link') {
        archive.links.set(rel, h.type === 'link' ? `/${layerRelativePath(h.linkname)}` : h.linkname);
        await entry.skip();
        continue;
      }
      if (h.type !== 'file') {
        await entry.skip();
        continue;
      }
      const p = join(dir, rel);
      try {
        await mkdir(dirname(p), { recursive: true, mode: 0o700 });
      } catch {
        throw invalidParameter(`invalid archive: cannot create ${rel}`);
      }
      // Only regular files and directories are ever created here, so nothing can redirect
      // this open; a repeated entry replaces the earlier one, as tar does.
      await rm(p, { force: true }).catch(() => {});
      const fh = await open(p, 'wx', 0o600);
      try {
        for await (const chunk of entry.body()) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    }
    return archive;
  }

  /** Resolves `rel` through the archive's symlinks (never leaving the archive). */
  resolve(rel: string): string {
    let parts = layerRelativePath(rel).split('/');
    for (let hops = 0; hops < 40; hops++) {
      let changed = false;
      for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        const target = this.links.get(prefix);
        if (target === undefined) continue;
        const base = target.startsWith('/') ? target : posix.join(posix.dirname(prefix), target);
        parts = [...layerRelativePath(base).split('/'), ...parts.slice(i)].filter(Boolean);
        changed = true;
        break;
      }
      if (!changed) return join(this.dir, parts.join('/'));
    }
    throw invalidParameter(`too many levels of symbolic links in archive path ${rel}`);
  }

  async exists(rel: string): Promise<boolean> {
    try {
      return (await stat(this.resolve(rel))).isFile();
    } catch {
      return false;
    }
  }

  async read(rel: string): Promise<Buffer> {
    try {
      return await readFile(this.resolve(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalidParameter(`invalid archive: ${rel} not found`);
      throw err;
    }
  }

  stream(rel: string): Readable {
    return createReadStream(this.resolve(rel));
  }

  /** manifest.json, or one synthesised from index.json for a plain OCI layout. */
  async manifest(): Promise<ArchiveManifestItem[]> {
    if (await this.exists('manifest.json')) {
      const items = JSON.parse((await this.read('manifest.json')).toString('utf8')) as ArchiveManifestItem[];
      if (!Array.isArray(items)) throw invalidParameter('invalid archive: manifest.json is not a list');
      return items;
    }
    if (await this.exists('index.json')) return this.manifestFromOci();
    throw invalidParameter('invalid archive: no manifest.json (legacy v1 archives are not supported)');
  }

  private blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' || !/^[a-f0-9]{64}$/.test(hex ?? '')) throw invalidParameter(`unsupported digest ${digest}`);
    return `blobs/sha256/${hex}`;
  }

  private async manifestFromOci(): Promise<ArchiveManifestItem[]> {
    interface Desc {
      mediaType?: string;
      digest: string;
      annotations?: Record<string, string>;
      platform?: { os?: string; architecture?: string };
    }
    const out = new Map<string, ArchiveManifestItem>();
    const visit = async (descs: Desc[], inherited: string[]): Promise<void> => {
      for (const d of descs) {
        const name = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'];
        const tags = [...inherited];
        if (name && parseNameOrNull(name)) tags.push(name);
        const body = JSON.parse((await this.read(this.blobPath(d.digest))).toString('utf8')) as {
          mediaType?: string;
          manifests?: Desc[];
          config?: Desc;
          layers?: Desc[];
        };
        const mt = d.mediaType ?? body.mediaType;
        if (mt === MEDIA_OCI_INDEX || mt === MEDIA_DOCKER_LIST || body.manifests) {
          await visit(body.manifests ?? [], tags);
          continue;
        }
        if (mt !== MEDIA_OCI_MANIFEST && mt !== MEDIA_DOCKER_MANIFEST && !body.config) continue;
        if (!body.config || !(await this.exists(this.blobPath(body.config.digest)))) continue;
        const key = body.config.digest;
        const item = out.get(key) ?? { Config: this.blobPath(key), RepoTags: [], Layers: (body.layers ?? []).map((l) => this.blobPath(l.digest)) };
        for (const t of tags) {
          const f = familiarString(parseNormalizedNamed(t));
          if (!item.RepoTags!.includes(f)) item.RepoTags!.push(f);
        }
        out.set(key, item);
      }
    };
    const index = JSON.parse((await this.read('index.json')).toString('utf8')) as { manifests?: Desc[] };
    await visit(index.manifests ?? [], []);
    return [...out.values()];
  }
}

function parseNameOrNull(s: string): Reference | null {
  try {
    return parseNormalizedNamed(s);
  } catch {
    return null;
  }
}

export interface ArchiveLayer {
  diffId: string;
  /** Exact byte length of the uncompressed layer tar. */
  size: number;
  open(): Promise<Readable>;
}

export interface ArchiveImage {
  id: string;
  /** Exact config bytes. */
  config: Buffer;
  refs: Reference[];
  layers: ArchiveLayer[];
  os: string;
  architecture: string;
  variant?: string;
}

/** Writes images as Docker 28's `docker save` does: OCI layout + manifest.json + repositories. */
export async function writeArchive(images: ArchiveImage[], out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const epoch = new Date(0);
  const add = (name: string, data: Buffer | string, mtime = epoch) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve())));
  const manifest: Array<Record<string, unknown>> = [];
  const indexDescs: Array<Record<string, unknown>> = [];
  const repositories: Record<string, Record<string, string>> = {};
  const blobs = new Map<string, { data?: Buffer; layer?: ArchiveLayer; mtime: Date }>();

  for (const img of images) {
    const created = new Date((JSON.parse(img.config.toString('utf8')) as { created?: string }).created ?? 0);
    const mtime = isNaN(created.getTime()) ? epoch : created;
    const platform: Record<string, string> = { architecture: img.architecture, os: img.os };
    if (img.variant) platform.variant = img.variant;
    const ociManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_OCI_MANIFEST,
        config: { mediaType: MEDIA_OCI_CONFIG, digest: img.id, size: img.config.length, platform },
        layers: img.layers.map((l) => ({ mediaType: MEDIA_OCI_LAYER, digest: l.diffId, size: l.size })),
      }),
    );
    const manifestDigest = sha256Digest(ociManifest);
    blobs.set(hexOf(manifestDigest), { data: ociManifest, mtime: epoch });
    blobs.set(hexOf(img.id), { data: img.config, mtime });
    for (const l of img.layers) if (!blobs.has(hexOf(l.diffId))) blobs.set(hexOf(l.diffId), { layer: l, mtime });
    const repoTags: string[] = [];
    for (const ref of img.refs) {
      if (ref.tag === undefined) continue;
      (repositories[familiarName(ref)] ??= {})[ref.tag] = hexOf(img.layers[img.layers.length - 1]?.diffId ?? '');
      repoTags.push(familiarString(ref));
      indexDescs.push({
        mediaType: MEDIA_OCI_MANIFEST,
        digest: manifestDigest,
        size: ociManifest.length,
        platform,
        annotations: { 'io.containerd.image.name': fullString(ref), 'org.opencontainers.image.ref.name': ref.tag },
      });
    }
    if (repoTags.length === 0) indexDescs.push({ mediaType: MEDIA_OCI_MANIFEST, digest: manifestDigest, size: ociManifest.length, platform });
    manifest.push({
      Config: `blobs/sha256/${hexOf(img.id)}`,
      RepoTags: repoTags.length ? repoTags : null,
      Layers: img.layers.map((l) => `blobs/sha256/${hexOf(l.diffId)}`),
    });
  }

  try {
    pack.entry({ name: 'blobs', type: 'directory', mode: 0o755, mtime: epoch });
    pack.entry({ name: 'blobs/sha256', type: 'directory', mode: 0o755, mtime: epoch });
    for (const hex of [...blobs.keys()].sort()) {
      const b = blobs.get(hex)!;
      const name = `blobs/sha256/${hex}`;
      if (b.data) {
        await add(name, b.data, b.mtime);
        continue;
      }
      const layer = b.layer!;
      const src = await layer.open();
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ name, mode: 0o644, size: layer.size, mtime: b.mtime }, (err) => (err ? reject(err) : resolve()));
        src.on('error', (err) => {
          sink.destroy(err);
          reject(err);
        });
        src.pipe(sink);
      });
    }
    await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: indexDescs }));
    await add('manifest.json', JSON.stringify(manifest) + '\n');
    await add('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (Object.keys(repositories).length) await add('repositories', JSON.stringify(repositories) + '\n');
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await done;
}
