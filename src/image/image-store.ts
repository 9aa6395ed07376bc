/**
 * The image config store (imagedb), in Docker's layout under <data-root>/image/overlay2:
 *   imagedb/content/sha256/<id>              the config JSON; <id> is the sha256 of its bytes
 *   imagedb/metadata/sha256/<id>/lastUpdated RFC 3339 time of the last tag
 *   imagedb/metadata/sha256/<id>/parent      parent image ID (built images)
 * IDs are listed once, on first use (one readdir); configs and parent links are read lazily and cached.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageConfigFile } from '../api/types.js';
import { writeFileAtomic } from '../lib/atomic-file.js';
import { hexOf, sha256Digest } from '../layer/chain-id.js';
import { parseImageConfig } from './config-shape.js';

export interface StoredImage {
  /** sha256:<hex> */
  id: string;
  config: ImageConfigFile;
  /** Size of the config bytes. */
  rawSize: number;
}

export class ImageStore {
  private readonly contentDir: string;
  private readonly metadataDir: string;
  private ids: Set<string> | null = null;
  private readonly cache = new Map<string, StoredImage>();
  /** Parent links read or written (this store is their only writer); builds look them all up per build. */
  private readonly parents = new Map<string, string>();

  constructor(imageRoot: string) {
    this.contentDir = join(imageRoot, 'imagedb', 'content', 'sha256');
    this.metadataDir = join(imageRoot, 'imagedb', 'metadata', 'sha256');
  }

  async init(): Promise<void> {
    await mkdir(this.contentDir, { recursive: true, mode: 0o700 });
    await mkdir(this.metadataDir, { recursive: true, mode: 0o700 });
    await this.idSet();
  }

  /** Number of images (the ID list is read by init()). */
  count(): number {
    return this.ids?.size ?? 0;
  }

  /** All image IDs (sha256:…). */
  async list(): Promise<string[]> {
    return [...(await this.idSet())];
  }

  private async idSet(): Promise<Set<string>> {
    if (!this.ids) {
      const names = await readdir(this.contentDir).catch(() => [] as string[]);
      this.ids = new Set(names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`));
    }
    return this.ids;
  }

  async has(id: string): Promise<boolean> {
    return (await this.idSet()).has(id);
  }

  /** Full ID for a unique hex prefix (with or without `sha256:`), or null (none or ambiguous). */
  async search(prefix: string): Promise<string | null> {
    const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
    if (!/^[a-f0-9]+$/.test(hex)) return null;
    let found: string | null = null;
    for (const id of await this.idSet()) {
      if (id.startsWith(`sha256:${hex}`)) {
        if (found !== null) return null;
        found = id;
      }
    }
    return found;
  }

  async get(id: string): Promise<StoredImage | null> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (!(await this.has(id))) return null;
    const raw = await readFile(join(this.contentDir, hexOf(id))).catch(() => null);
    if (!raw) return null;
    let config: ImageConfigFile;
    try {
      config = parseImageConfig(raw);
    } catch {
      // Stored before configs were decoded as Docker decodes them: unreadable, as in Docker.
      return null;
    }
    const img: StoredImage = { id, config, rawSize: raw.length };
    this.cache.set(id, img);
    return img;
  }

  /** The exact config bytes (what the ID is the digest of). */
  async raw(id: string): Promise<Buffer> {
    return readFile(join(this.contentDir, hexOf(id)));
  }

  /** Stores config bytes; returns the ID. Idempotent. */
  async create(raw: Buffer): Promise<string> {
    const config = parseImageConfig(raw);
    const id = sha256Digest(raw);
    if (!(await this.has(id))) {
      await writeFileAtomic(join(this.contentDir, hexOf(id)), raw, 0o600);
      (await this.idSet()).add(id);
    }
    this.cache.set(id, { id, config, rawSize: raw.length });
    return id;
  }

  async delete(id: string): Promise<void> {
    (await this.idSet()).delete(id);
    this.cache.delete(id);
    this.parents.delete(id);
    await rm(join(this.contentDir, hexOf(id)), { force: true });
    await rm(join(this.metadataDir, hexOf(id)), { recursive: true, force: true });
  }

  async setLastUpdated(id: string, when = new Date()): Promise<void> {
    await writeFileAtomic(join(this.metadataDir, hexOf(id), 'lastUpdated'), when.toISOString(), 0o600);
  }

  /** RFC 3339 time of the last tag, or null. */
  async lastUpdated(id: string): Promise<string | null> {
    return readFile(join(this.metadataDir, hexOf(id), 'lastUpdated'), 'utf8').catch(() => null);
  }

  async setParent(id: string, parent: string): Promise<void> {
    this.parents.delete(id);
    await writeFileAtomic(join(this.metadataDir, hexOf(id), 'parent'), parent, 0o600);
    this.parents.set(id, parent);
  }

  async parent(id: string): Promise<string> {
    const known = this.parents.get(id);
    if (known !== undefined) return known;
    const parent = (await readFile(join(this.metadataDir, hexOf(id), 'parent'), 'utf8').catch(() => '')).trim();
    // A setParent while this read was under way has the last word.
    if ((await this.has(id)) && !this.parents.has(id)) this.parents.set(id, parent);
    return parent;
  }
}
