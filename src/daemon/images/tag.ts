/** POST /images/{name}/tag. */
import { familiarName, familiarString, isValidTag, parseNormalizedNamed, withDefaultTag } from '../../image/reference.js';
import { invalidParameter } from '../../lib/errors.js';
import type { ImageCore } from './core.js';
import { imageEventActor } from './image-events.js';

export async function tagImage(c: ImageCore, ref: string, repo: string, tag?: string): Promise<void> {
  if (!repo) throw invalidParameter('repository name must have at least one component');
  let target = parseNormalizedNamed(repo);
  if (target.digest !== undefined) throw invalidParameter('cannot tag a digest reference');
  if (tag) {
    if (!isValidTag(tag)) throw invalidParameter('invalid tag format');
    target = { ...target, tag };
  }
  target = withDefaultTag(target);
  if (familiarName(target) === 'sha256') throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
  await c.exclusive(async () => {
    const id = await c.lookup(ref);
    await c.refs.add(target, id, true);
    await c.images.setLastUpdated(id);
    c.opts.events?.log('image', 'tag', await imageEventActor(c, id, familiarString(target)));
  });
}
