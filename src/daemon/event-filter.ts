/**
 * Docker's event filters (daemon/events/filter.go): type, event, scope, daemon, container,
 * image, network, volume, plugin and label. Names and IDs of containers, networks and volumes
 * match by prefix (Docker's FuzzyMatch); images match their ID, their name and the name
 * without its tag; all given keys must match, any value of a key may.
 */
import type { Filters } from '../api/types.js';
import type { EventMessage } from '../api/types.js';

const exact = (values: string[] | undefined, source: string): boolean => !values?.length || values.includes(source);

const fuzzy = (values: string[] | undefined, source: string): boolean =>
  !values?.length || values.some((v) => v === source || source.startsWith(v));

/** Strips `:tag` (not a registry port) from an image reference; digests are kept. */
function stripTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(0, colon) : ref;
}

const FUZZY_ACTIONS = ['health_status', 'exec_create', 'exec_start'];

export function eventFilter(filters: Filters | undefined): (ev: EventMessage) => boolean {
  const f = filters ?? {};
  if (Object.values(f).every((v) => !v.length)) return () => true;
  // As Docker: a `container` filter also applies to events of other types (by their actor).
  const byName = (key: string) => (ev: EventMessage) =>
    fuzzy(f[key], ev.Actor.ID) || fuzzy(f[key], ev.Actor.Attributes['name'] ?? '');
  const container = byName('container');
  const network = byName('network');
  const volume = byName('volume');
  const daemon = byName('daemon');
  const plugin = byName('plugin');
  const fuzzyEvent = (f['event'] ?? []).some((v) => FUZZY_ACTIONS.includes(v));
  return (ev) => {
    const actionOk = fuzzyEvent ? fuzzy(f['event'], ev.Action) : exact(f['event'], ev.Action);
    if (!actionOk) return false;
    if (!exact(f['type'], ev.Type)) return false;
    if (!exact(f['scope'], ev.scope)) return false;
    if (!daemon(ev) || !container(ev) || !plugin(ev) || !volume(ev) || !network(ev)) return false;
    if (f['image']?.length) {
      const name = ev.Actor.Attributes[ev.Type === 'image' ? 'name' : 'image'] ?? '';
      const candidates = [ev.Actor.ID, name, stripTag(ev.Actor.ID), stripTag(name)];
      if (!candidates.some((c) => f['image']!.includes(c))) return false;
    }
    for (const spec of f['label'] ?? []) {
      const i = spec.indexOf('=');
      const key = i < 0 ? spec : spec.slice(0, i);
      if (!Object.hasOwn(ev.Actor.Attributes, key)) return false;
      if (i >= 0 && ev.Actor.Attributes[key] !== spec.slice(i + 1)) return false;
    }
    return true;
  };
}
