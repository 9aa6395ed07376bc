/**
 * The engine's event log: every service reports its actions here (as Docker's daemon/events
 * package), and GET /events replays the recent past and follows new ones. Events are kept in
 * memory only, the last EVENTS_KEPT of them, as Docker does.
 */
import { EventEmitter } from 'node:events';

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder' | 'plugin';

export interface EventActor {
  ID: string;
  Attributes: Record<string, string>;
}

/** Docker's events.Message; status/id/from are the pre-1.22 fields Docker still fills for containers and images. */
export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: EventActor;
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
}

export const EVENTS_KEPT = 256;

/** What services call to report an action. */
export interface EventSink {
  log(type: EventType, action: string, actor: EventActor): void;
}

export class EventBus implements EventSink {
  private readonly recent: EngineEvent[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  log(type: EventType, action: string, actor: EventActor): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: actor.ID, Attributes: { ...actor.Attributes } },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = actor.ID;
      const from = actor.Attributes['image'];
      if (type === 'container' && from !== undefined) event.from = from;
    }
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
}
