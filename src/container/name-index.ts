/**
 * Container names and IDs: reservation with Docker's rules and texts, and lookup of a
 * user's reference (full ID, name, unique ID prefix) as Docker's GetContainer does.
 * Every container holds exactly one name, so the set of known IDs is the set of holders.
 */
import { conflict, invalidParameter, noSuchContainer } from '../lib/errors.js';
import { shortId } from '../lib/ids.js';
import { randomName } from './names-generator.js';

export const VALID_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const VALID_NAME = new RegExp(`^${VALID_NAME_CHARS}+$`);

/** "/x" for "x" or "/x". */
export function canonicalName(name: string): string {
  return name.startsWith('/') ? name : `/${name}`;
}

/** Throws Docker's InvalidParameter text unless `name` (with or without its slash) is allowed. */
export function validateName(name: string): void {
  if (!VALID_NAME.test(name.replace(/^\//, ''))) {
    throw invalidParameter(`Invalid container name (${name}), only ${VALID_NAME_CHARS} are allowed`);
  }
}

export class NameIndex {
  /** "/name" -> full ID */
  private readonly byName = new Map<string, string>();
  /** full ID -> its names in the order reserved (one, except half-way through a rename) */
  private readonly byId = new Map<string, Set<string>>();

  /**
   * Reserves `name` (with or without the leading slash) for `id`. Reserving a name the ID
   * already holds is a no-op; Conflict with Docker's text when another ID holds it.
   * An ID may hold several names (a rename reserves the new one, then releases the old).
   */
  reserve(name: string, id: string): void {
    validateName(name);
    const key = canonicalName(name);
    const holder = this.byName.get(key);
    if (holder === id) return;
    if (holder !== undefined) {
      throw conflict(
        `Conflict. The container name "${key}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byName.set(key, id);
    let names = this.byId.get(id);
    if (!names) this.byId.set(id, (names = new Set()));
    names.add(key);
  }

  /**
   * Frees `name` when `id` holds it (another holder keeps it: a stale release must never take a
   * name from the container that has it now); an ID left without names is forgotten.
   */
  release(name: string, id: string): void {
    const key = canonicalName(name);
    if (this.byName.get(key) !== id) return;
    this.byName.delete(key);
    const names = this.byId.get(id);
    names?.delete(key);
    if (names && names.size === 0) this.byId.delete(id);
  }

  /** The ID holding a name (with or without slash), if any. */
  idOf(name: string): string | undefined {
    return this.byName.get(canonicalName(name));
  }

  /** The "/name" of an ID (the latest reserved), if known. */
  nameOf(id: string): string | undefined {
    const names = this.byId.get(id);
    return names ? [...names].at(-1) : undefined;
  }

  has(name: string): boolean {
    return this.byName.has(canonicalName(name));
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /**
   * A random free name (no slash), not reserved yet. Like Docker: adjective_surname, then
   * with a digit appended on retries, and finally the short ID when one is given.
   */
  generate(id?: string): string {
    for (let attempt = 0; attempt < 6; attempt++) {
      const name = randomName(attempt);
      if (!this.has(name)) return name;
    }
    if (id !== undefined && !this.has(shortId(id))) return shortId(id);
    for (;;) {
      const name = `${randomName(0)}${Math.floor(Math.random() * 1_000_000)}`;
      if (!this.has(name)) return name;
    }
  }

  /**
   * The full ID for a full ID, a name (with or without slash) or a unique ID prefix, in that
   * order, as Docker's GetContainer. Empty ref: InvalidParameter `invalid name or ID supplied: ""`;
   * a prefix of several IDs: InvalidParameter `multiple IDs found with provided prefix: x`;
   * nothing: NotFound `No such container: x`.
   */
  resolve(ref: string): string {
    if (ref === '') throw invalidParameter('invalid name or ID supplied: ""');
    if (this.byId.has(ref)) return ref;
    const byName = this.byName.get(canonicalName(ref));
    if (byName !== undefined) return byName;
    return resolveIdPrefix(this.byId.keys(), ref);
  }
}

/** Docker's GetByPrefix over `ids`: the one ID starting with `prefix`. */
export function resolveIdPrefix(ids: Iterable<string>, prefix: string): string {
  if (prefix === '') throw invalidParameter("prefix can't be empty");
  let found: string | undefined;
  for (const id of ids) {
    if (!id.startsWith(prefix)) continue;
    if (found !== undefined) throw invalidParameter(`multiple IDs found with provided prefix: ${prefix}`);
    found = id;
  }
  if (found === undefined) throw noSuchContainer(prefix);
  return found;
}
