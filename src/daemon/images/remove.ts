/**
 * DELETE /images/{name} and POST /images/prune: Docker's ImageDelete (untag, then delete when
 * the last reference goes, with its conflict rules) and the parent pruning after a delete.
 */
import type { Filters, ImageDeleteItem, PruneReport } from '../../api/types.js';
import { familiarName, familiarString, parseNormalizedNamed, withDefaultTag, type Reference } from '../../image/reference.js';
import { chainIds } from '../../layer/chain-id.js';
import { conflict, invalidParameter, isEngineError } from '../../lib/errors.js';
import { filterBool, parseFilterTime, labelMatches } from '../../lib/filters.js';
import { shortId } from '../../lib/ids.js';
import { unixSeconds, type ImageCore, type ImageUser } from './core.js';
import { imageEventActor } from './image-events.js';

const RUNNING = 1;
const DEPENDENT_CHILD = 2;
const ACTIVE_REF = 4;
const STOPPED = 8;
const HARD = RUNNING | DEPENDENT_CHILD;
const SOFT = ACTIVE_REF | STOPPED;

export async function removeImage(c: ImageCore, ref: string, opts: { force: boolean; noprune: boolean }): Promise<ImageDeleteItem[]> {
  const id = await c.lookup(ref).catch(() => undefined);
  const untagActor = id ? await imageEventActor(c, id, id) : undefined;
  const records = await c.exclusive(async () => {
    // Read before the delete drops the image's metadata.
    const parent = id ? await c.images.parent(id) : '';
    const out = await removeLocked(c, ref, opts.force);
    if (id && parent && !opts.noprune && out.some((r) => r.Deleted === id)) await pruneParents(c, parent, out);
    return out;
  });
  for (const r of records) {
    // moby logs an untag while the image still exists (with its labels), a delete once it is gone.
    if (id && (r.Untagged || r.Deleted === id)) c.opts.events?.log('image', r.Untagged ? 'untag' : 'delete', r.Untagged && untagActor ? untagActor : { ID: id, Attributes: { name: id } });
  }
  return records;
}

/**
 * Docker's parent pruning after a delete: the deleted image's parents (a build's intermediate
 * images, a commit's base) go too while they are untagged, unused by containers and have no
 * other child. Called with the images lock held, with the deleted image's parent.
 */
async function pruneParents(c: ImageCore, first: string, records: ImageDeleteItem[]): Promise<void> {
  let parent = first;
  while (parent && (await c.images.has(parent))) {
    if (c.refs.references(parent).length > 0 || c.containersUsingImage(parent).length > 0) return;
    for (const other of await c.images.list()) {
      if (other !== parent && (await c.images.parent(other)) === parent) return;
    }
    const next = await c.images.parent(parent);
    await deleteImage(c, parent, records);
    c.opts.events?.log('image', 'delete', { ID: parent, Attributes: { name: parent } });
    parent = next;
  }
}

/** Docker's ImageDelete: untag when a reference was given, delete when the last one goes. */
async function removeLocked(c: ImageCore, ref: string, force: boolean): Promise<ImageDeleteItem[]> {
  const id = await c.lookup(ref);
  const records: ImageDeleteItem[] = [];
  let repoRefs = c.refs.references(id);
  const users = c.containersUsingImage(id);
  const hasChildren = await hasChildImages(c, id);
  let quiet = false;
  if (!isImageIdPrefix(id, ref)) {
    // Untagging one of several references leaves the image tagged, so only the last one needs force.
    if (!force && users.length && isSingleReference(repoRefs)) {
      throw conflict(
        `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(id)}`,
      );
    }
    const parsed = withDefaultTag(parseNormalizedNamed(ref));
    await c.refs.delete(parsed);
    records.push({ Untagged: familiarString(parsed) });
    repoRefs = c.refs.references(id);
    if (parsed.digest === undefined) {
      const sameRepoTag = repoRefs.some((r) => r.digest === undefined && familiarName(r) === familiarName(parsed));
      if (!sameRepoTag) {
        const remaining: Reference[] = [];
        for (const r of repoRefs) {
          if (r.digest !== undefined && familiarName(r) === familiarName(parsed)) {
            await c.refs.delete(r);
            records.push({ Untagged: familiarString(r) });
          } else remaining.push(r);
        }
        repoRefs = remaining;
      }
    }
    if (repoRefs.length > 0) return records;
    quiet = true;
  } else if (isSingleReference(repoRefs)) {
    const blocked = conflictOf(id, users, hasChildren, repoRefs, force ? HARD : HARD | STOPPED);
    if (blocked) throw blocked;
    for (const r of repoRefs) {
      await c.refs.delete(r);
      records.push({ Untagged: familiarString(r) });
    }
  }
  const blocked = conflictOf(id, users, hasChildren, c.refs.references(id), force ? HARD : HARD | SOFT);
  if (blocked) {
    // After an untag, a remaining conflict only means the image stays (Docker's quiet mode).
    if (quiet && (users.length > 0 || hasChildren)) return records;
    throw blocked;
  }
  await deleteImage(c, id, records);
  return records;
}

/** Whether another image names `id` as its parent (a build's steps, a commit's base). */
async function hasChildImages(c: ImageCore, id: string): Promise<boolean> {
  for (const other of await c.images.list()) if (other !== id && (await c.images.parent(other)) === id) return true;
  return false;
}

function conflictOf(id: string, users: ImageUser[], hasChildren: boolean, refs: Reference[], mask: number): Error | null {
  if (mask & DEPENDENT_CHILD && hasChildren) {
    return conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image has dependent child images`);
  }
  const running = users.find((u) => u.running);
  if (mask & RUNNING && running) {
    return conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
  }
  if (mask & ACTIVE_REF && refs.length > 0) {
    return conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
  }
  const stopped = users.find((u) => !u.running);
  if (mask & STOPPED && stopped) {
    return conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is being used by stopped container ${shortId(stopped.id)}`);
  }
  return null;
}

/** Removes every reference, the config, and the layers nothing else uses. */
async function deleteImage(c: ImageCore, id: string, records: ImageDeleteItem[]): Promise<number> {
  for (const r of c.refs.references(id)) {
    await c.refs.delete(r);
    records.push({ Untagged: familiarString(r) });
  }
  const config = await c.configOf(id);
  await c.images.delete(id);
  records.push({ Deleted: id });
  const { removed, reclaimed } = await c.gcLayers(chainIds(config.rootfs?.diff_ids ?? []));
  for (const chain of removed) records.push({ Deleted: chain });
  return reclaimed;
}

export async function pruneImages(c: ImageCore, filters: Filters): Promise<PruneReport> {
  const f = filters ?? {};
  for (const key of Object.keys(f)) {
    if (!['dangling', 'label', 'label!', 'until'].includes(key)) throw invalidParameter(`invalid filter '${key}'`);
  }
  const danglingOnly = filterBool(f, 'dangling', true);
  let untilTime = Infinity;
  for (const u of f.until ?? []) untilTime = Math.min(untilTime, parseFilterTime(u));
  return c.exclusive(async () => {
    const deleted: ImageDeleteItem[] = [];
    let reclaimed = 0;
    for (const id of await c.images.list()) {
      if (c.containersUsingImage(id).length > 0) continue;
      const config = await c.configOf(id);
      if (unixSeconds(config.created) >= untilTime) continue;
      const labels = config.config?.Labels ?? {};
      if (f.label?.length && !f.label.every((l) => labelMatches(labels, l))) continue;
      if (f['label!']?.length && f['label!'].some((l) => labelMatches(labels, l))) continue;
      const tags = c.refs.references(id).filter((r) => r.digest === undefined);
      if (danglingOnly && tags.length > 0) continue;
      try {
        reclaimed += await deleteImage(c, id, deleted);
      } catch (err) {
        if (!isEngineError(err, 'Conflict')) throw err;
      }
    }
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  });
}

function isImageIdPrefix(id: string, ref: string): boolean {
  return id.startsWith(ref) || id.slice('sha256:'.length).startsWith(ref);
}

/** Docker's isSingleReference: one tag (plus digests of the same repository) at most. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | null = null;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(familiarName(r));
    else if (single === null) single = r;
    else return false;
  }
  single ??= refs[0] ?? null;
  return single !== null && canonical.size === 1 && canonical.has(familiarName(single));
}

