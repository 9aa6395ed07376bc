/**
 * Resolves `-u user[:group]` (and HostConfig.GroupAdd) against the image's /etc/passwd and
 * /etc/group, read inside the container's rootfs, with Docker's semantics and messages.
 */
import { readFileInRoot } from '../containerfs/root.js';
import { invalidParameter } from '../lib/errors.js';

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

  const passwd = parsePasswd(await readInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(await readInRoot(rootfs, '/etc/group'));

  const out: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  let userName: string | undefined;

  if (userArg === '') {
    const root = passwd.find((p) => p.uid === 0);
    if (root) {
      out.home = root.home || '/';
      userName = root.name;
    }
  } else {
    const uidNum = parseId(userArg);
    const entry = passwd.find((p) => p.name === userArg || (uidNum !== undefined && p.uid === uidNum));
    if (entry) {
      out.uid = entry.uid;
      out.gid = entry.gid;
      out.home = entry.home || '/';
      userName = entry.name;
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

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 3) continue;
    const uid = parseId(f[2]!);
    if (uid === undefined) continue;
    out.push({ name: f[0]!, uid, gid: parseId(f[3] ?? '') ?? 0, home: f[5] ?? '' });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 3) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

/** Reads `path` as the container would see it (containerfs resolves it; nothing outside the rootfs is read). */
async function readInRoot(rootfs: string, path: string): Promise<string | undefined> {
  return (await readFileInRoot(rootfs, path))?.toString('utf8');
}
