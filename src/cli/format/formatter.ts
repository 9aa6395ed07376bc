/**
 * Docker's list formatters (cli/command/formatter): per-row contexts whose Go-like methods
 * templates call, table output through the tabwriter, `json` rows, headers.
 */
import type { ContainerSummary, ImageSummary, PortSummary } from '../../api/types.js';
import { familiarName, parseNormalizedNamed } from '../../image/reference.js';
import { tabwrite } from './tabwriter.js';
import { Template, isTableFormat, templateSource, type TemplateStruct } from '../../lib/go-template.js';
import { ellipsis, humanDuration, humanSizeWithPrecision, humanSize, truncateId } from './units.js';

/** Go's time.Time.String() in local time: `2006-01-02 15:04:05 -0700 MST`. */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const offStr = `${sign}${pad(Math.trunc(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  let zone = 'UTC';
  if (off !== 0) {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(d)
      .find((p) => p.type === 'timeZoneName')?.value;
    zone = part && /^[A-Z]{2,5}$/.test(part) ? part : `${sign}${pad(Math.trunc(Math.abs(off) / 60))}`;
  }
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${offStr} ${zone}`
  );
}

/** Go's strconv.Quote for the strings Docker shows (commands). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

function sinceNow(unixSeconds: number, now: number): string {
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}

/** Sorted key=value pairs joined by commas, as Docker's Labels(). */
function joinLabels(labels: Record<string, string> | null | undefined): string {
  if (!labels) return '';
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
}

/** formatter.DisplayablePorts: groups consecutive ports, `0.0.0.0:8080->80/tcp, 443/tcp`. */
export function displayablePorts(ports: PortSummary[] | null | undefined): string {
  if (!ports || ports.length === 0) return '';
  const sorted = [...ports].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    if ((a.IP ?? '') !== (b.IP ?? '')) return (a.IP ?? '') < (b.IP ?? '') ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const joinHostPort = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, start: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash > 0 ? key.slice(0, slash) : '';
    const type = slash > 0 ? key.slice(slash + 1) : key;
    let group = String(start);
    if (start !== last) group = `${group}-${last}`;
    if (ip) group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const k of keys) {
    const g = groups.get(k)!;
    result.push(formGroup(k, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

/** One `ps` row (Docker's ContainerContext). */
export class ContainerRow implements TemplateStruct {
  constructor(
    private readonly c: ContainerSummary,
    private readonly trunc: boolean,
    private readonly now: number = Date.now(),
  ) {}

  templateTypeName(): string {
    return '*formatter.ContainerContext';
  }

  ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }

  Names(): string {
    const names: string[] = [];
    for (const n of this.c.Names ?? []) {
      const name = n.replace(/^\//, '');
      if (this.trunc) {
        if (!name.includes('/')) return name;
        continue;
      }
      names.push(name);
    }
    return names.join(',');
  }

  Image(): string {
    const img = this.c.Image;
    if (!img) return '<no image>';
    if (!this.trunc) return img;
    const t = truncateId(this.c.ImageID ?? '');
    if (t === truncateId(img)) return t;
    try {
      const ref = parseNormalizedNamed(img);
      const name = familiarName(ref);
      return ref.tag !== undefined ? `${name}:${ref.tag}` : ref.digest !== undefined ? name : name;
    } catch {
      return img;
    }
  }

  Command(): string {
    const cmd = this.c.Command ?? '';
    return goQuote(this.trunc ? ellipsis(cmd, 20) : cmd);
  }

  CreatedAt(): string {
    return goTimeString(this.c.Created);
  }

  RunningFor(): string {
    return sinceNow(this.c.Created, this.now);
  }

  Platform(): null {
    return null;
  }

  Ports(): string {
    return displayablePorts(this.c.Ports);
  }

  State(): string {
    return this.c.State;
  }

  Status(): string {
    return this.c.Status;
  }

  Size(): string {
    const srw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    if ((this.c.SizeRootFs ?? 0) > 0) return `${srw} (virtual ${humanSizeWithPrecision(this.c.SizeRootFs!, 3)})`;
    return srw;
  }

  Labels(): string {
    return joinLabels(this.c.Labels);
  }

  Label(name: string): string {
    return this.c.Labels?.[name] ?? '';
  }

  Mounts(): string {
    return (this.c.Mounts ?? [])
      .map((m) => {
        const name = m.Name ? m.Name : m.Source;
        return this.trunc ? ellipsis(name, 15) : name;
      })
      .join(',');
  }

  LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {}).join(',');
  }

  toJSON(): Record<string, unknown> {
    return {
      Command: this.Command(),
      CreatedAt: this.CreatedAt(),
      ID: this.ID(),
      Image: this.Image(),
      Labels: this.Labels(),
      LocalVolumes: this.LocalVolumes(),
      Mounts: this.Mounts(),
      Names: this.Names(),
      Networks: this.Networks(),
      Platform: this.Platform(),
      Ports: this.Ports(),
      RunningFor: this.RunningFor(),
      Size: this.Size(),
      State: this.State(),
      Status: this.Status(),
    };
  }
}

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

/** One `images` row (Docker's imageContext). */
export class ImageRow implements TemplateStruct {
  constructor(
    private readonly i: ImageSummary,
    private readonly repo: string,
    private readonly tag: string,
    private readonly digest: string,
    private readonly trunc: boolean,
    private readonly now: number = Date.now(),
  ) {}

  templateTypeName(): string {
    return '*formatter.imageContext';
  }

  ID(): string {
    return this.trunc ? truncateId(this.i.Id) : this.i.Id;
  }

  Repository(): string {
    return this.repo;
  }

  Tag(): string {
    return this.tag;
  }

  Digest(): string {
    return this.digest;
  }

  CreatedSince(): string {
    if (!this.i.Created && this.i.Created !== 0) return '';
    return sinceNow(this.i.Created, this.now);
  }

  CreatedAt(): string {
    return goTimeString(this.i.Created);
  }

  Size(): string {
    return humanSizeWithPrecision(this.i.Size, 3);
  }

  VirtualSize(): string {
    return humanSizeWithPrecision(this.i.Size, 3);
  }

  Containers(): string {
    return this.i.Containers === -1 ? 'N/A' : String(this.i.Containers);
  }

  SharedSize(): string {
    return this.i.SharedSize === -1 ? 'N/A' : humanSize(this.i.SharedSize);
  }

  UniqueSize(): string {
    if (this.i.Size === -1 || this.i.SharedSize === -1) return 'N/A';
    return humanSize(this.i.Size - this.i.SharedSize);
  }

  toJSON(): Record<string, unknown> {
    return {
      Containers: this.Containers(),
      CreatedAt: this.CreatedAt(),
      CreatedSince: this.CreatedSince(),
      Digest: this.Digest(),
      ID: this.ID(),
      Repository: this.Repository(),
      SharedSize: this.SharedSize(),
      Size: this.Size(),
      Tag: this.Tag(),
      UniqueSize: this.UniqueSize(),
      VirtualSize: this.VirtualSize(),
    };
  }
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** One row per repo:tag (and per digest when digests are shown), as Docker's ImageWrite. */
export function imageRows(images: ImageSummary[], opts: { trunc: boolean; digest: boolean; needDigest: boolean }): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(new ImageRow(img, '<none>', '<none>', '<none>', opts.trunc));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const s of img.RepoTags ?? []) {
      try {
        const ref = parseNormalizedNamed(s);
        if (ref.tag === undefined) continue;
        const name = familiarName(ref);
        repoTags.set(name, [...(repoTags.get(name) ?? []), ref.tag]);
      } catch {
        // unparsable references are skipped, as Docker does
      }
    }
    for (const s of img.RepoDigests ?? []) {
      try {
        const ref = parseNormalizedNamed(s);
        if (ref.digest === undefined) continue;
        const name = familiarName(ref);
        repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.digest]);
      } catch {
        // skipped
      }
    }
    for (const [repo, tags] of repoTags) {
      let digests = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!opts.needDigest) digests = [];
      for (const tag of tags) {
        if (digests.length === 0) rows.push(new ImageRow(img, repo, tag, '<none>', opts.trunc));
        else for (const d of digests) rows.push(new ImageRow(img, repo, tag, d, opts.trunc));
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (opts.digest) for (const d of digests) rows.push(new ImageRow(img, repo, '<none>', d, opts.trunc));
      else rows.push(new ImageRow(img, repo, '<none>', '', opts.trunc));
    }
  }
  return rows;
}

export const DEFAULT_CONTAINER_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
export const DEFAULT_IMAGE_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const DEFAULT_IMAGE_TABLE_DIGEST =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/**
 * Renders rows with a --format value as Docker's formatter.Context.Write does. Throws
 * TemplateError (caller prints `template parsing error: …`).
 */
export function renderRows(format: string, rows: unknown[], headers: Record<string, string>): string {
  const src = templateSource(format);
  const tmpl = new Template(src);
  let body = '';
  for (const row of rows) body += `${tmpl.execute(row)}\n`;
  if (!isTableFormat(format)) return body;
  const header = new Template(src, { header: true }).executePartial({ ...headers });
  return tabwrite(`${header}\n${body}`);
}
