/**
 * The engine's event log: every service reports its actions here (as Docker's daemon/events
 * package), and GET /events replays the recent past and follows new ones. Events are kept in
 * memory only, the last EVENTS_KEPT of them, as Docker does.
 */
import { EventEmitter } from 'node:events';
import { eventFilter } from './event-filter.js';
import type { EventMessage } from '../api/types.js';
import type { EventSubscription, EventsBackend, EventsQuery } from '../api/backend.js';
import { wallClockNs } from '../lib/wall-clock.js';

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder' | 'plugin';

export interface EventActor {
  ID: string;
  Attributes: Record<string, string>;
}

/** Docker's events.Message; status/id/from are the pre-1.22 fields Docker still fills for containers and images. */
export type EngineEvent = EventMessage;

export const EVENTS_KEPT = 256;

/** What services call to report an action. */
export interface EventSink {
  log(type: EventType, action: string, actor: EventActor): void;
}

/**
 * Event times in nanoseconds on the wall clock /info's SystemTime reads, strictly increasing, and
 * each one a multiple of 256 so that it is exactly representable as a double (2^60 < now in ns <
 * 2^61): clients and filters see one value.
 */
class EventClock {
  private last = 0n;

  nowNs(): bigint {
    let ns = wallClockNs();
    ns -= ns % 256n;
    if (ns <= this.last) ns = this.last + 256n;
    this.last = ns;
    return ns;
  }
}

export class EventBus implements EventSink, EventsBackend {
  private readonly recent: EngineEvent[] = [];
  private readonly emitter = new EventEmitter();
  private readonly clock = new EventClock();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  log(type: EventType, action: string, actor: EventActor): void {
    const nowNs = this.clock.nowNs();
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: actor.ID, Attributes: { ...actor.Attributes } },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      // Field order as Docker encodes them: status, id, from first.
      const from = type === 'container' ? actor.Attributes['image'] : undefined;
      const legacy: Partial<EngineEvent> = { status: action, id: actor.ID };
      if (from !== undefined) legacy.from = from;
      Object.assign(legacy, event);
      this.push(legacy as EngineEvent);
      return;
    }
    this.push(event);
  }

  private push(event: EngineEvent): void {
    this.recent.push(event);
    if (this.recent.length > EVENTS_KEPT) this.recent.shift();
    this.emitter.emit('event', event);
  }

  /** The kept events, oldest first. */
  history(): EngineEvent[] {
    return [...this.recent];
  }

  /** Calls `listener` for each new event until the returned function is called. */
  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /**
   * GET /events: the kept events between since and until that pass the filters (none when
   * neither bound is given, as Docker), then every new matching one. Replay and subscription
   * happen in the same tick, so no event falls between them.
   */
  events(query: EventsQuery, onEvent: (event: EngineEvent) => void): EventSubscription {
    const include = eventFilter(query.filters);
    const buffered: EngineEvent[] = [];
    if (query.sinceNs !== undefined || query.untilNs !== undefined) {
      const since = query.sinceNs ?? 0n;
      for (const ev of this.recent) {
        const t = BigInt(ev.timeNano);
        if (t < since) continue;
        if (query.untilNs !== undefined && query.untilNs > 0n && t > query.untilNs) continue;
        if (include(ev)) buffered.push(ev);
      }
    }
    const listener = (ev: EngineEvent) => {
      if (include(ev)) onEvent(ev);
    };
    const unsubscribe = this.subscribe(listener);
    return { buffered, close: unsubscribe };
  }
}

