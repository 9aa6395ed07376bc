/**
 * Resolves `-u user[:group]` (and HostConfig.GroupAdd) against the image's /etc/passwd and
 * /etc/group, read inside the container's rootfs, with Docker's semantics and messages.
 */
import { readFileInRoot } from '../containerfs/root.js';
import { invalidParameter } from '../lib/errors.js';
import { runSliced } from '../lib/run-sliced.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then the user's groups from /etc/group, then GroupAdd. */
  additionalGids: number[];
  /** The user's home from passwd; "/" when unknown. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2147483647;

export async function resolveUser(rootfs: string, user: string | undefined, groupAdd?: string[]): Promise<ResolvedUser> {
  const spec = (user ?? '').trim();
  const colon = spec.indexOf(':');
  const userArg = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupArg = colon >= 0 ? spec.slice(colon + 1) : '';

  // Only the entries these lookups can use are kept (moby's ParsePasswdFilter/ParseGroupFilter).
  const uidNum = parseId(userArg);
  const [found] = await scanEntries(
    await readInRoot(rootfs, '/etc/passwd'),
    passwdEntry,
    (p) => (userArg === '' ? p.uid === 0 : p.name === userArg || (uidNum !== undefined && p.uid === uidNum)),
    true,
  );
  const userName = found?.name;
  const wanted = [groupArg, ...(groupAdd ?? [])].filter(Boolean).map((g) => ({ name: g, gid: parseId(g) }));
  const groups = await scanEntries(
    await readInRoot(rootfs, '/etc/group'),
    groupEntry,
    (g) => wanted.some((w) => g.name === w.name || g.gid === w.gid) || (userName !== undefined && g.members.includes(userName)),
  );

  const out: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };

  if (userArg === '') {
    if (found) out.home = found.home || '/';
  } else {
    if (found) {
      out.uid = found.uid;
      out.gid = found.gid;
      out.home = found.home || '/';
    } else if (uidNum !== undefined) {
      out.uid = checkRange(uidNum, userArg);
    } else {
      throw invalidParameter(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
  }

  if (groupArg !== '') {
    const gidNum = parseId(groupArg);
    const entry = groups.find((g) => g.name === groupArg || (gidNum !== undefined && g.gid === gidNum));
    if (entry) out.gid = entry.gid;
    else if (gidNum !== undefined) out.gid = checkRange(gidNum, groupArg);
    else throw invalidParameter(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (userName !== undefined) {
    for (const g of groups) {
      if (g.members.includes(userName) && !out.additionalGids.includes(g.gid)) out.additionalGids.push(g.gid);
    }
  }

  for (const ag of groupAdd ?? []) {
    const gidNum = parseId(ag);
    const entry = groups.find((g) => g.name === ag || (gidNum !== undefined && g.gid === gidNum));
    let gid: number;
    if (entry) gid = entry.gid;
    else if (gidNum !== undefined) gid = checkRange(gidNum, ag);
    else throw invalidParameter(`Unable to find group ${ag}: no matching entries in group file`);
    if (!out.additionalGids.includes(gid)) out.additionalGids.push(gid);
  }
  // As Docker (since the CVE-2022-36109 fix): the primary group is also a supplementary group.
  out.additionalGids = [out.gid, ...out.additionalGids.filter((g) => g !== out.gid)];
  return out;
}

/** A numeric ID as Go's strconv.Atoi reads it (a sign allowed): -1 is numeric, and out of range. */
function parseId(s: string): number | undefined {
  return /^[+-]?[0-9]+$/.test(s) ? Number(s) : undefined;
}

function checkRange(n: number, raw: string): number {
  if (n < 0 || n > MAX_ID) throw invalidParameter(`uids and gids must be in range 0-${MAX_ID}: ${raw}`);
  return n;
}

function passwdEntry(f: string[]): PasswdEntry | undefined {
  const uid = f.length < 3 ? undefined : parseId(f[2]!);
  return uid === undefined ? undefined : { name: f[0]!, uid, gid: parseId(f[3] ?? '') ?? 0, home: f[5] ?? '' };
}

function groupEntry(f: string[]): GroupEntry | undefined {
  const gid = f.length < 3 ? undefined : parseId(f[2]!);
  return gid === undefined ? undefined : { name: f[0]!, gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) };
}

/**
 * The entries of a passwd or group file that `keep` wants (the first one only with `firstOnly`),
 * in file order. The file is the container's, up to 32 MiB of it: it is read a line at a time in
 * slices of the event loop (all at once, a file of a million lines held the daemon for seconds at
 * every exec and health probe), and only the entries kept are made.
 */
function scanEntries<T>(text: string | undefined, parse: (fields: string[]) => T | undefined, keep: (e: T) => boolean, firstOnly = false): Promise<T[]> {
  return runSliced(
    (function* () {
      const out: T[] = [];
      const all = text ?? '';
      for (let start = 0; start < all.length; ) {
        const nl = all.indexOf('\n', start);
        const end = nl < 0 ? all.length : nl;
        const l = all.slice(start, end).trim();
        start = end + 1;
        yield;
        if (!l || l.startsWith('#')) continue;
        const e = parse(l.split(':'));
        if (e === undefined || !keep(e)) continue;
        out.push(e);
        if (firstOnly) break;
      }
      return out;
    })(),
  );
}

/** Reads `path` as the container would see it (containerfs resolves it; nothing outside the rootfs is read). */
async function readInRoot(rootfs: string, path: string): Promise<string | undefined> {
  return (await readFileInRoot(rootfs, path))?.toString('utf8');
}
