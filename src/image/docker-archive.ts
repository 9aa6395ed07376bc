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
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidParameter } from '../lib/errors.js';
import { TarWriter } from '../lib/tar-writer.js';
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
  /** The image's parent, when that was saved in the same archive. */
  Parent?: string;
}

/** An unpacked archive: files by their path inside it. */
export class UnpackedArchive {
  private readonly links = new Map<string, string>();

  constructor(readonly dir: string) {}

  static async unpack(src: Readable, dir: string, signal?: AbortSignal): Promise<UnpackedArchive> {
    const archive = new UnpackedArchive(dir);
    const { stream } = await decompressed(src);
    const reader = new TarReader(stream);
    for await (const entry of reader.entries()) {
      signal?.throwIfAborted();
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

  /** `path` relative to the archive root; refused when `..` would leave it. */
  private inside(path: string, asked: string): string {
    try {
      return layerRelativePath(path);
    } catch {
      throw invalidParameter(`invalid archive: ${asked} is outside the archive`);
    }
  }

  /** Resolves `rel` through the archive's symlinks (never leaving the archive). */
  resolve(rel: string): string {
    let parts = this.inside(rel, rel).split('/');
    for (let hops = 0; hops < 40; hops++) {
      let changed = false;
      for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        const target = this.links.get(prefix);
        if (target === undefined) continue;
        const base = target.startsWith('/') ? target : posix.join(posix.dirname(prefix), target);
        parts = [...this.inside(base, rel).split('/'), ...parts.slice(i)].filter(Boolean);
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

  /**
   * Reads a JSON file of the archive (manifest.json, index.json, a config or an OCI index),
   * at most MAX_ARCHIVE_JSON bytes: a few hundred KiB of gzip make a file whose parse would
   * take the daemon's whole heap.
   */
  async read(rel: string): Promise<Buffer> {
    const fh = await open(this.resolve(rel), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw invalidParameter(`invalid archive: ${rel} not found`);
      throw err;
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw invalidParameter(`invalid archive: ${rel} is not a regular file`);
      if (st.size > MAX_ARCHIVE_JSON) throw invalidParameter(`invalid archive: ${rel} is larger than ${MAX_ARCHIVE_JSON >> 20} MiB`);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /**
   * Opens a regular file of the archive for reading. The file is opened before the stream is
   * made, so a missing or odd path is this call's error instead of an 'error' event that nobody
   * listens to yet.
   */
  async open(rel: string): Promise<Readable> {
    const fh = await open(this.resolve(rel), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw invalidParameter(`invalid archive: ${rel} not found`);
      throw err;
    });
    try {
      if (!(await fh.stat()).isFile()) throw invalidParameter(`invalid archive: ${rel} is not a regular file`);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return fh.createReadStream();
  }

  /** manifest.json, or one synthesised from index.json for a plain OCI layout. */
  async manifest(signal?: AbortSignal): Promise<ArchiveManifestItem[]> {
    if (await this.exists('manifest.json')) return checkManifest(parseJSON(await this.read('manifest.json'), 'manifest.json'));
    if (await this.exists('index.json')) return this.manifestFromOci(signal);
    // Docker 25 dropped loading the legacy (pre-1.10) layout too, with this message.
    throw invalidParameter('invalid archive: does not contain a manifest.json');
  }

  private blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' || !/^[a-f0-9]{64}$/.test(hex ?? '')) throw invalidParameter(`unsupported digest ${digest}`);
    return `blobs/sha256/${hex}`;
  }

  /**
   * Walks index.json down to the image manifests. The walk is bounded: nesting deeper than
   * MAX_INDEX_DEPTH, more than MAX_DESCRIPTORS descriptors in all, or an index that contains
   * itself refuse the archive (a few KB of nested indexes would otherwise fan out without end).
   */
  private async manifestFromOci(signal?: AbortSignal): Promise<ArchiveManifestItem[]> {
    const out = new Map<string, ArchiveManifestItem>();
    let visited = 0;
    const parsed = new Map<string, unknown>();
    const visit = async (descs: unknown, inherited: string[], path: string[]): Promise<void> => {
      if (descs === undefined || descs === null) return;
      if (!Array.isArray(descs)) throw invalidParameter('invalid OCI layout: manifests is not a list');
      if (path.length > MAX_INDEX_DEPTH) throw invalidParameter(`invalid OCI layout: indexes nested deeper than ${MAX_INDEX_DEPTH}`);
      for (const raw of descs) {
        signal?.throwIfAborted();
        if (++visited > MAX_DESCRIPTORS) throw invalidParameter(`invalid OCI layout: more than ${MAX_DESCRIPTORS} descriptors`);
        const d = checkDescriptor(raw);
        if (path.includes(d.digest)) throw invalidParameter(`invalid OCI layout: index ${d.digest} contains itself`);
        const name = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'];
        const tags = [...inherited];
        if (typeof name === 'string' && parseNameOrNull(name)) tags.push(name);
        let body = parsed.get(d.digest);
        if (body === undefined) {
          body = parseJSON(await this.read(this.blobPath(d.digest)), d.digest);
          parsed.set(d.digest, body);
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidParameter(`invalid OCI layout: ${d.digest} is not a JSON object`);
        const b = body as { mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
        const mt = d.mediaType ?? b.mediaType;
        if (mt === MEDIA_OCI_INDEX || mt === MEDIA_DOCKER_LIST || b.manifests) {
          await visit(b.manifests, tags, [...path, d.digest]);
          continue;
        }
        if (mt !== MEDIA_OCI_MANIFEST && mt !== MEDIA_DOCKER_MANIFEST && !b.config) continue;
        if (!b.config) continue;
        const config = checkDescriptor(b.config);
        if (!(await this.exists(this.blobPath(config.digest)))) continue;
        if (b.layers !== undefined && b.layers !== null && !Array.isArray(b.layers)) throw invalidParameter(`invalid OCI layout: layers of ${d.digest} is not a list`);
        const key = config.digest;
        const layers = ((b.layers ?? []) as unknown[]).map((l) => this.blobPath(checkDescriptor(l).digest));
        const item = out.get(key) ?? { Config: this.blobPath(key), RepoTags: [], Layers: layers };
        for (const t of tags) {
          const f = familiarString(parseNormalizedNamed(t));
          if (!item.RepoTags!.includes(f)) item.RepoTags!.push(f);
        }
        out.set(key, item);
      }
    };
    const index = parseJSON(await this.read('index.json'), 'index.json');
    if (typeof index !== 'object' || index === null || Array.isArray(index)) throw invalidParameter('invalid OCI layout: index.json is not a JSON object');
    await visit((index as { manifests?: unknown }).manifests, [], []);
    return [...out.values()];
  }
}

/** Limits of the OCI index walk (Docker's own archives have depth 1 and one descriptor per tag). */
export const MAX_INDEX_DEPTH = 8;
/** Largest JSON file of an archive that is read (Docker Hub's manifests stop at 4 MiB). */
const MAX_ARCHIVE_JSON = 8 << 20;
export const MAX_DESCRIPTORS = 10_000;

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, unknown>;
}

function checkDescriptor(raw: unknown): Descriptor {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidParameter('invalid OCI layout: a descriptor is not a JSON object');
  const d = raw as Record<string, unknown>;
  if (typeof d.digest !== 'string') throw invalidParameter('invalid OCI layout: a descriptor has no digest');
  if (d.mediaType !== undefined && typeof d.mediaType !== 'string') throw invalidParameter('invalid OCI layout: mediaType is not a string');
  if (d.annotations !== undefined && (typeof d.annotations !== 'object' || d.annotations === null || Array.isArray(d.annotations))) {
    throw invalidParameter('invalid OCI layout: annotations is not an object');
  }
  return d as unknown as Descriptor;
}

function parseJSON(raw: Buffer, what: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw invalidParameter(`invalid archive: ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** manifest.json must be a list of {Config: string, RepoTags: [string]|null, Layers: [string]}. */
function checkManifest(parsed: unknown): ArchiveManifestItem[] {
  if (!Array.isArray(parsed)) throw invalidParameter('invalid archive: manifest.json is not a list');
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  for (const item of parsed) {
    const i = item as Record<string, unknown> | null;
    if (typeof i !== 'object' || i === null || Array.isArray(i)) throw invalidParameter('invalid archive: a manifest.json entry is not an object');
    if (typeof i.Config !== 'string') throw invalidParameter('invalid archive: manifest.json entry without a Config path');
    if (i.Layers === null || i.Layers === undefined) i.Layers = [];
    if (!strings(i.Layers)) throw invalidParameter('invalid archive: Layers in manifest.json is not a list of paths');
    if (i.RepoTags !== null && i.RepoTags !== undefined && !strings(i.RepoTags)) throw invalidParameter('invalid archive: RepoTags in manifest.json is not a list of names');
    if (i.Parent === '' || i.Parent === null) delete i.Parent;
    if (i.Parent !== undefined && (typeof i.Parent !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(i.Parent))) {
      throw invalidParameter('invalid archive: Parent in manifest.json is not an image ID');
    }
  }
  return parsed as ArchiveManifestItem[];
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
  /** Its parent image, if that is in the same archive (manifest.json's Parent, as Docker's save). */
  parent?: string;
  os: string;
  architecture: string;
  variant?: string;
}

/** Writes images as Docker 28's `docker save` does: OCI layout + manifest.json + repositories. */
export async function writeArchive(images: ArchiveImage[], out: Writable): Promise<void> {
  const pack = new TarWriter();
  const done = pipeline(pack, out);
  // When `out` fails (the client hung up), `done` rejects while an entry is being written; the
  // rejection is taken at the end, and every wait below also ends on it.
  done.catch(() => {});
  const orEnd = <T>(p: Promise<T>): Promise<T> => Promise.race([p, done.then(() => Promise.reject(new Error('archive stream closed early')))]);
  const epoch = new Date(0);
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const fileHeader = (name: string, size: number, mtime: Date) => ({ name, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size, mtime: seconds(mtime) });
  const add = (name: string, data: Buffer | string, mtime = epoch) => {
    const buf = Buffer.from(data);
    return orEnd(pack.add(fileHeader(name, buf.length, mtime), buf));
  };
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
      ...(img.parent ? { Parent: img.parent } : {}),
    });
  }

  try {
    for (const name of ['blobs/', 'blobs/sha256/']) await orEnd(pack.add({ name, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 }));
    for (const hex of [...blobs.keys()].sort()) {
      const b = blobs.get(hex)!;
      const name = `blobs/sha256/${hex}`;
      if (b.data) {
        await add(name, b.data, b.mtime);
        continue;
      }
      const layer = b.layer!;
      const src = await orEnd(layer.open());
      try {
        // A layer that yields fewer bytes than its size would be zero-filled: that is an error here.
        let read = 0;
        const counted = (async function* () {
          for await (const chunk of src as AsyncIterable<Buffer>) {
            read += chunk.length;
            yield chunk;
          }
        })();
        await orEnd(pack.add(fileHeader(name, layer.size, b.mtime), counted));
        if (read !== layer.size) throw new Error(`layer ${hex}: ${read} bytes, ${layer.size} expected`);
      } finally {
        src.destroy();
      }
    }
    await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: indexDescs }));
    await add('manifest.json', JSON.stringify(manifest) + '\n');
    await add('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (Object.keys(repositories).length) await add('repositories', JSON.stringify(repositories) + '\n');
    pack.finish();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await done;
}
