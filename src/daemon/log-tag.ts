/**
 * The `tag` log option: a Go template over moby's logger.Info, evaluated as moby's json-file
 * driver evaluates it (ParseLogTag with no default template) when the container starts; its text
 * is one of the attributes `docker logs --details` shows. A template that does not parse or run
 * fails the start, as the logger's creation fails it in Docker.
 */
import { hostname } from 'node:os';
import type { ContainerRecord } from '../container/container.js';
import { goUtcTimeString } from '../container/state.js';
import { Template } from '../lib/go-template.js';

/** A time.Time field: printed as Go prints one, marshalled (`json`) as RFC 3339. */
class GoTime {
  constructor(private readonly rfc3339: string) {}

  String(): string {
    return goUtcTimeString(this.rfc3339);
  }
  toJSON(): string {
    return this.rfc3339;
  }
}

/** moby's logger.Info as a template sees it: its fields, and its methods (ID, Name, ImageID…). */
class LogInfo {
  readonly Config: Record<string, string>;
  readonly ContainerID: string;
  readonly ContainerName: string;
  readonly ContainerEntrypoint: string;
  readonly ContainerArgs: string[];
  readonly ContainerImageID: string;
  readonly ContainerImageName: string;
  readonly ContainerCreated: GoTime;
  readonly ContainerEnv: string[];
  readonly ContainerLabels: Record<string, string>;
  readonly LogPath: string;
  readonly DaemonName = 'docker';

  constructor(rec: ContainerRecord) {
    this.Config = { ...(rec.HostConfig.LogConfig?.Config ?? {}) };
    this.ContainerID = rec.ID;
    this.ContainerName = rec.Name;
    this.ContainerEntrypoint = rec.Path;
    this.ContainerArgs = [...(rec.Args ?? [])];
    this.ContainerImageID = rec.Image;
    this.ContainerImageName = rec.Config.Image ?? '';
    this.ContainerCreated = new GoTime(rec.Created);
    this.ContainerEnv = [...(rec.Config.Env ?? [])];
    this.ContainerLabels = { ...(rec.Config.Labels ?? {}) };
    this.LogPath = rec.LogPath;
  }

  templateTypeName(): string {
    return '*logger.Info';
  }
  ID(): string {
    return this.ContainerID.slice(0, 12);
  }
  FullID(): string {
    return this.ContainerID;
  }
  Name(): string {
    return this.ContainerName.replace(/^\//, '');
  }
  /** moby cuts the 12 characters off the whole `sha256:…` string. */
  ImageID(): string {
    return this.ContainerImageID.slice(0, 12);
  }
  ImageFullID(): string {
    return this.ContainerImageID;
  }
  ImageName(): string {
    return this.ContainerImageName;
  }
  Command(): string {
    return [this.ContainerEntrypoint, ...this.ContainerArgs].join(' ');
  }
  Hostname(): string {
    return hostname();
  }
}

/** The container's log tag ('' without the option); throws the template's error. */
export function logTag(rec: ContainerRecord): string {
  const source = rec.HostConfig.LogConfig?.Config?.['tag'];
  if (!source) return '';
  return new Template(source, { name: 'log-tag' }).execute(new LogInfo(rec));
}
