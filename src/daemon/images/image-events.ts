/** The actor of an image event as moby's LogImageEvent makes it. */
import type { ImageCore } from './core.js';

/** The image's labels while it still exists (a `delete` has none), then `name`, which wins. */
export async function imageEventActor(c: ImageCore, id: string, name: string): Promise<{ ID: string; Attributes: Record<string, string> }> {
  const labels = await c.configOf(id).then(
    (cfg) => cfg.config?.Labels ?? {},
    () => ({}),
  );
  return { ID: id, Attributes: { ...labels, name } };
}
