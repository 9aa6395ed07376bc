import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, EVENTS_KEPT } from '../../../src/daemon/events.js';
import { eventFilter } from '../../../src/daemon/event-filter.js';
import { encodeEvent, parseEventTime } from '../../../src/api/routes/events.js';
import { eventTemplateData, formatEventLine, parseEventLine } from '../../../src/cli/events.js';
import { Template, templateSource } from '../../../src/lib/go-template.js';
import type { EventMessage } from '../../../src/api/types.js';

const ctr = (action: string, name: string, extra: Record<string, string> = {}): [string, { ID: string; Attributes: Record<string, string> }] => [
  action,
  { ID: `${name}-id`, Attributes: { image: 'busybox:latest', name, ...extra } },
];

test('events carry Docker legacy fields for containers and images, strictly increasing exact nanosecond times', () => {
  const bus = new EventBus();
  bus.log('container', ...ctr('start', 'web'));
  bus.log('network', 'connect', { ID: 'net1', Attributes: { container: 'web-id', name: 'bridge', type: 'bridge' } });
  const [c, n] = bus.history();
  assert.deepEqual(Object.keys(c!), ['status', 'id', 'from', 'Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
  assert.equal(c!.from, 'busybox:latest');
  assert.equal(n!.status, undefined);
  assert.ok(n!.timeNano > c!.timeNano);
  assert.equal(n!.timeNano % 256, 0);
  assert.equal(Number(BigInt(n!.timeNano)), n!.timeNano, 'timeNano is an exact integer');
  const line = encodeEvent(n!);
  assert.match(line, new RegExp(`"timeNano":${BigInt(n!.timeNano)}}\\n$`));
  assert.equal(parseEventLine(line.trim()).timeNano, BigInt(n!.timeNano));
});

test('only the last EVENTS_KEPT are kept; replay needs since or until; until bounds the replay', () => {
  const bus = new EventBus();
  for (let i = 0; i < EVENTS_KEPT + 10; i++) bus.log('container', ...ctr('start', `c${i}`));
  assert.equal(bus.history().length, EVENTS_KEPT);
  assert.equal(bus.history()[0]!.Actor.Attributes['name'], 'c10');
  assert.equal(bus.events({ filters: {} }, () => {}).buffered.length, 0);
  const mid = BigInt(bus.history()[100]!.timeNano);
  const fromMid = bus.events({ sinceNs: mid, filters: {} }, () => {});
  assert.equal(fromMid.buffered.length, EVENTS_KEPT - 100);
  const toMid = bus.events({ untilNs: mid, filters: {} }, () => {});
  assert.equal(toMid.buffered.length, 101);
  const live: EventMessage[] = [];
  const sub = bus.events({ filters: { event: ['die'] } }, (e) => live.push(e));
  bus.log('container', ...ctr('start', 'x'));
  bus.log('container', ...ctr('die', 'x', { exitCode: '0' }));
  sub.close();
  bus.log('container', ...ctr('die', 'y'));
  assert.deepEqual(live.map((e) => e.Actor.Attributes['name']), ['x']);
});

test("filters follow Docker: prefix names, image with or without tag, labels, type, exec_* fuzzy", () => {
  const bus = new EventBus();
  bus.log('container', ...ctr('start', 'web-1', { tier: 'front' }));
  bus.log('container', ...ctr('exec_start: sh -c true', 'db'));
  bus.log('image', 'tag', { ID: 'sha256:abc', Attributes: { name: 'busybox:latest' } });
  bus.log('network', 'create', { ID: 'n1', Attributes: { name: 'backend', type: 'bridge' } });
  const names = (filters: Record<string, string[]>) =>
    bus
      .history()
      .filter(eventFilter(filters))
      .map((e) => `${e.Type}:${e.Actor.Attributes['name']}`);
  assert.deepEqual(names({ container: ['web'] }), ['container:web-1']);
  assert.deepEqual(names({ container: ['web-1-id'] }), ['container:web-1']);
  assert.deepEqual(names({ image: ['busybox'] }), ['container:web-1', 'container:db', 'image:busybox:latest']);
  assert.deepEqual(names({ image: ['busybox:latest'], type: ['image'] }), ['image:busybox:latest']);
  assert.deepEqual(names({ label: ['tier=front'] }), ['container:web-1']);
  assert.deepEqual(names({ label: ['tier=back'] }), []);
  assert.deepEqual(names({ event: ['exec_start'] }), ['container:db']);
  assert.deepEqual(names({ network: ['backend'] }), ['network:backend']);
  assert.deepEqual(names({ type: ['network', 'image'] }), ['image:busybox:latest', 'network:backend']);
  assert.deepEqual(names({ type: ['container'], event: ['start', 'tag'] }), ['container:web-1']);
});

test("since/until: unix seconds with nanos only, as moby's ParseTimestamps; anything else is 400", () => {
  assert.equal(parseEventTime('1700000000.5', 'since'), 1_700_000_000_500_000_000n);
  assert.equal(parseEventTime('1700000000', 'since'), 1_700_000_000_000_000_000n);
  assert.equal(parseEventTime('1700000000.', 'since'), 1_700_000_000_000_000_000n);
  assert.equal(parseEventTime('1700000000.0000000019', 'since'), 1_700_000_000_000_000_001n);
  assert.equal(parseEventTime('', 'since'), undefined);
  assert.throws(() => parseEventTime('yesterday', 'until'), /invalid value for "until"/);
  // Durations and RFC3339 times are the CLI's to convert: the daemon refuses them (Podman's
  // compat suite sends since=30s; Docker answers strconv.ParseInt's error).
  assert.throws(() => parseEventTime('30s', 'since'), { message: 'invalid value for "since": strconv.ParseInt: parsing "30s": invalid syntax' });
  assert.throws(() => parseEventTime('2023-11-14T22:13:20.000000001Z', 'since'), {
    message: 'invalid value for "since": strconv.ParseInt: parsing "2023-11-14T22:13:20": invalid syntax',
  });
  assert.throws(() => parseEventTime('1700000000.5x', 'since'), /parsing "5x": invalid syntax/);
});

test("the CLI prints Docker's default line and templates see Go's field names", () => {
  const ev = parseEventLine(
    '{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"x","image":"busybox"}},"scope":"local","time":1795431841,"timeNano":1795431841621639424}',
  );
  const prevTz = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    assert.equal(formatEventLine(ev), '2026-11-23T11:04:01.621639424Z container start abc (image=busybox, name=x)\n');
  } finally {
    if (prevTz === undefined) delete process.env.TZ;
    else process.env.TZ = prevTz;
  }
  const t = new Template(templateSource('{{.Type}} {{.Status}} {{.Actor.Attributes.name}} {{.TimeNano}}'));
  assert.equal(t.execute(eventTemplateData(ev)), 'container start x 1795431841621639424');
  const json = JSON.parse(new Template(templateSource('json')).execute(eventTemplateData(ev)));
  assert.equal(json.Action, 'start');
  assert.equal(json.Actor.Attributes.name, 'x');
});
