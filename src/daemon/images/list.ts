/** GET /images/json: Docker's image list with its filters (dangling, label, before, since, reference, until). */
import type { Filters, ImageSummary } from '../../api/types.js';
import { familiarName, familiarString, type Reference } from '../../image/reference.js';
import { invalidParameter } from '../../lib/errors.js';
import { compileGoRegexp, type GoRegexp } from '../../lib/go-regexp.js';
import { filterBool, labelMatches, parseFilterTime } from '../../lib/filters.js';
import { unixSeconds, type ImageCore } from './core.js';
import { rfc3339ToNs } from '../../lib/wall-clock.js';

const IMAGE_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);

function globToRegExp(glob: string): GoRegexp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return compileGoRegexp(`^${re}$`);
}

/** Docker's reference.FamiliarMatch: the pattern matches the familiar name or the familiar string. */
function familiarMatch(pattern: string, ref: Reference): boolean {
  const re = globToRegExp(pattern);
  return re.test(familiarName(ref)) || re.test(familiarString(ref));
}

export async function listImages(c: ImageCore, opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]> {
  const f = opts.filters ?? {};
  for (const key of Object.keys(f)) if (!IMAGE_FILTERS.has(key)) throw invalidParameter(`invalid filter '${key}'`);
  const danglingOnly = filterBool(f, 'dangling', false);
  // before/since compare creation times at full precision (Docker's time.Time), not whole seconds.
  const createdNs = (created: string | undefined) => rfc3339ToNs(created ?? '') ?? 0n;
  let beforeNs: bigint | undefined;
  let sinceNs: bigint | undefined;
  for (const b of f.before ?? []) {
    const t = createdNs((await c.configOf(await c.lookup(b))).created);
    if (beforeNs === undefined || t < beforeNs) beforeNs = t;
  }
  for (const s of f.since ?? []) {
    const t = createdNs((await c.configOf(await c.lookup(s))).created);
    if (sinceNs === undefined || t > sinceNs) sinceNs = t;
  }
  let untilTime = Infinity;
  for (const u of f.until ?? []) untilTime = Math.min(untilTime, parseFilterTime(u));

  const out: ImageSummary[] = [];
  const ids = await c.images.list();
  // Untagged images that are another image's parent are intermediate: shown only with `all`.
  const parents = new Set<string>();
  if (!opts.all) for (const id of ids) parents.add(await c.images.parent(id));
  for (const id of ids) {
    const config = await c.configOf(id);
    const created = unixSeconds(config.created);
    if (!(created < untilTime)) continue;
    if (beforeNs !== undefined || sinceNs !== undefined) {
      const ns = createdNs(config.created);
      if ((beforeNs !== undefined && !(ns < beforeNs)) || (sinceNs !== undefined && !(ns > sinceNs))) continue;
    }
    const labels = config.config?.Labels ?? {};
    if (f.label?.length && !f.label.every((l) => labelMatches(labels, l))) continue;
    const repoTags: string[] = [];
    const repoDigests: string[] = [];
    for (const ref of c.refs.references(id)) {
      if (f.reference?.length && !f.reference.some((p) => familiarMatch(p, ref))) continue;
      if (ref.digest !== undefined) repoDigests.push(`${familiarName(ref)}@${ref.digest}`);
      else repoTags.push(familiarString(ref));
    }
    if (repoTags.length === 0 && repoDigests.length === 0) {
      if (parents.has(id)) continue;
      if (f.dangling?.length && !danglingOnly) continue;
      if (f.reference?.length) continue;
    } else if (danglingOnly && repoTags.length > 0) continue;
    out.push({
      Containers: c.containersUsingImage(id).length,
      Created: created,
      Id: id,
      Labels: labels,
      ParentId: await c.images.parent(id),
      RepoDigests: repoDigests,
      RepoTags: repoTags,
      SharedSize: -1,
      Size: await c.sizeOf(config),
    });
  }
  return out.sort((a, b) => b.Created - a.Created);
}
