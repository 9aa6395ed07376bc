/**
 * name:tag and name@digest -> image ID, persisted as Docker's repositories.json:
 *   {"Repositories":{"busybox":{"busybox:latest":"sha256:…","busybox@sha256:…":"sha256:…"}}}
 * keyed by familiar name and familiar string, as Docker keys it. Read once at start; every
 * change rewrites the file atomically.
 */
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../lib/atomic-file.js';
import { conflict, invalidParameter, notFound } from '../lib/errors.js';
import { familiarName, familiarString, parseNormalizedNamed, withDefaultTag, type Reference } from './reference.js';

interface RepositoriesFile {
  Repositories: Record<string, Record<string, string>>;
}

export class ReferenceStore {
  private readonly path: string;
  private repos: Record<string, Record<string, string>> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(imageRoot: string) {
    this.path = join(imageRoot, 'repositories.json');
  }

  async load(): Promise<void> {
    const f = await readJsonIfExists<RepositoriesFile>(this.path);
    this.repos = f?.Repositories ?? {};
  }

  private save(): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify({ Repositories: this.repos })) as RepositoriesFile;
    this.writing = this.writing.catch(() => {}).then(() => writeJsonAtomic(this.path, snapshot, 0o600));
    return this.writing;
  }

  /** Image ID for a reference (tag or digest; `latest` is added when neither is given), or null. */
  get(ref: Reference): string | null {
    const r = withDefaultTag(ref);
    return this.repos[familiarName(r)]?.[familiarString(r)] ?? null;
  }

  /**
   * Points `ref` at `id`. With `force` an existing tag moves silently (docker tag, load);
   * without, a tag already on another image is a conflict. Returns the previous ID if it moved.
   */
  async add(ref: Reference, id: string, force: boolean): Promise<string | null> {
    const r = withDefaultTag(ref);
    if (familiarName(r) === 'sha256') throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    const name = familiarName(r);
    const key = familiarString(r);
    const prev = this.repos[name]?.[key] ?? null;
    if (prev !== null && prev !== id) {
      if (r.digest !== undefined) throw conflict(`Cannot overwrite digest ${r.digest}`);
      if (!force) throw conflict(`Conflict: Tag ${key} is already set to image ${prev}, if you want to replace it, please use the force option`);
    }
    if (prev === id) return null;
    (this.repos[name] ??= {})[key] = id;
    await this.save();
    return prev;
  }

  /** Removes a reference; NotFound if absent. */
  async delete(ref: Reference): Promise<void> {
    const r = withDefaultTag(ref);
    const name = familiarName(r);
    const key = familiarString(r);
    if (!this.repos[name]?.[key]) throw notFound(`No such image: ${key}`);
    delete this.repos[name][key];
    if (Object.keys(this.repos[name]).length === 0) delete this.repos[name];
    await this.save();
  }

  /** References to `id`, sorted as Docker sorts them (by familiar string). */
  references(id: string): Reference[] {
    const out: Array<[string, Reference]> = [];
    for (const refs of Object.values(this.repos)) {
      for (const [key, target] of Object.entries(refs)) {
        if (target === id) out.push([key, parseNormalizedNamed(key)]);
      }
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  }

  /** Every reference with its image ID. */
  all(): Array<{ ref: Reference; id: string }> {
    const out: Array<{ ref: Reference; id: string }> = [];
    for (const refs of Object.values(this.repos)) {
      for (const [key, id] of Object.entries(refs)) out.push({ ref: parseNormalizedNamed(key), id });
    }
    return out;
  }
}
