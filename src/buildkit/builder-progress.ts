/**
 * The classic builder's message stream (`Step 2/3 : RUN make`, ` ---> Using cache`, a RUN's
 * output, a base image's pull progress) as BuildKit vertexes: one per step, named as BuildKit
 * names it (the builder's BuildKit dialect tells the name with each step's line, ProgressMessage
 * .vertex: `[base 2/3] RUN make`, none for a metadata instruction), CACHED when the cache
 * answered, with the step's output as its logs. Stages built side by side prefix their lines with
 * `[name] `; each prefix has its own current step.
 */
import type { ProgressMessage } from '../api/types.js';
import { StatusFeed, VertexHandle } from './status-feed.js';


const STEP = /^Step (\d+)\/(\d+) : (.*)$/s;
const SILENT = [/^ ---> Running in [0-9a-f]+$/, /^(?: ---> )?Remov(?:ing|ed) intermediate container [0-9a-f]+$/, /^Successfully (built|tagged) /];
const STEP_DONE = /^ ---> [0-9a-f]{12}$/;

export class BuilderProgress {
  /** The step running under each prefix; null for a step BuildKit shows no vertex for. */
  private readonly current = new Map<string, VertexHandle | null>();
  private readonly stagePrefixes = new Set<string>();
  private partial = '';

  constructor(private readonly feed: StatusFeed) {}

  async message(m: ProgressMessage): Promise<void> {
    if (m.doneVertex !== undefined) {
      const v = new VertexHandle(this.feed, m.doneVertex);
      await v.start();
      await v.complete();
      return;
    }
    if (m.vertex !== undefined && typeof m.stream === 'string') {
      await this.stepStart(m.stream.replace(/\n$/, ''), m.vertex);
      return;
    }
    if (typeof m.stream === 'string') {
      const text = this.partial + m.stream;
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) await this.line(line, true);
      // A RUN's output without a newline yet is shown as it comes, not held back.
      if (this.partial && !/^( ---> |Step \d|\[)/.test(this.partial)) {
        await this.line(this.partial, false);
        this.partial = '';
      }
      return;
    }
    if (typeof m.status === 'string') await this.pullStatus(m);
  }

  /** Marks the step that was running when the build failed, and ends the others. */
  async fail(error: string): Promise<void> {
    if (this.partial) await this.line(this.partial, false);
    this.partial = '';
    const running = [...this.current.values()].filter((v): v is VertexHandle => v !== null && !v.completed);
    const failing = running.pop();
    for (const v of running) await v.complete({ error: 'cancelled' });
    await failing?.complete({ error });
  }

  async finish(): Promise<void> {
    if (this.partial) await this.line(this.partial, false);
    this.partial = '';
    for (const v of this.current.values()) await v?.complete();
  }

  /** A step begins: the one before under its prefix ends, and its vertex (if any) starts. */
  private async stepStart(line: string, name: string | null): Promise<void> {
    if (this.partial) await this.line(this.partial, false);
    this.partial = '';
    const { key } = this.split(line);
    await this.current.get(key)?.complete();
    const v = name === null ? null : new VertexHandle(this.feed, name);
    this.current.set(key, v);
    await v?.start();
  }

  private split(line: string): { key: string; rest: string } {
    const m = /^\[([^\]\n]+)\] (.*)$/s.exec(line);
    if (m) {
      if (STEP.test(m[2]!)) this.stagePrefixes.add(m[1]!);
      if (this.stagePrefixes.has(m[1]!)) return { key: m[1]!, rest: m[2]! };
    }
    return { key: '', rest: line };
  }

  private async line(line: string, newline: boolean): Promise<void> {
    const { key, rest } = this.split(line);
    const step = STEP.exec(rest);
    if (step) {
      await this.current.get(key)?.complete();
      const stage = key ? `${key} ` : '';
      const v = new VertexHandle(this.feed, `[${stage}${step[1]}/${step[2]}] ${step[3]!.trim()}`);
      this.current.set(key, v);
      await v.start();
      return;
    }
    const v = this.current.get(key);
    if (rest === ' ---> Using cache') {
      await v?.complete({ cached: true });
      return;
    }
    if (STEP_DONE.test(rest)) {
      await v?.complete();
      return;
    }
    if (SILENT.some((re) => re.test(rest))) return;
    const text = newline ? `${rest}\n` : rest;
    if (v && !v.completed) await v.log(text);
    else await this.other().log(text);
  }

  private otherVertex: VertexHandle | null = null;

  /** Output that belongs to no step (a warning after the last one). */
  private other(): VertexHandle {
    if (!this.otherVertex) {
      this.otherVertex = new VertexHandle(this.feed, '[internal] builder messages');
      this.current.set('\0other', this.otherVertex);
      void this.otherVertex.start();
    }
    return this.otherVertex;
  }

  private async pullStatus(m: ProgressMessage): Promise<void> {
    const v = this.current.get('') ?? [...this.current.values()].filter((x) => x !== null).pop();
    if (!v) return;
    const { current, total } = m.progressDetail ?? {};
    const done = /complete|exists/i.test(m.status ?? '');
    if (m.id && (total !== undefined || done)) {
      await v.status({ id: `${m.status?.startsWith('Extract') ? 'extracting' : 'sha256'} ${m.id}`, current: current ?? 0, total: total ?? 0, done });
      return;
    }
    await v.log(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
  }
}
