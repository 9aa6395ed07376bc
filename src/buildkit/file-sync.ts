/**
 * Receiving a directory from a BuildKit client: the receiving side of fsutil's protocol on the
 * session's `FileSync/DiffCopy` stream. The client walks the directory it shares (filtered by the
 * include and exclude patterns sent as metadata) and sends one STAT packet per entry, then an
 * empty one; the receiver asks for each regular file's bytes by the entry's index (REQ), which
 * arrive as DATA packets ending with an empty one; FIN from each side ends the call.
 *
 * The entries come out in the walk's order with their bodies; files are asked for a bounded
 * window ahead (a round trip each) and only that window is held in memory. The caller writes them
 * into a tar that the build's hardened extractor unpacks (the names are the client's and are not
 * trusted here either).
 */
import { fromGoFileMode } from '../lib/go-file-mode.js';
import { goQueryEscape } from '../lib/go-url.js';
import type { TarWriteHeader } from '../lib/tar-writer.js';
import { GrpcError, Status, type GrpcClient } from './grpc.js';
import { messages, PACKET_DATA, PACKET_ERR, PACKET_FIN, PACKET_REQ, PACKET_STAT, type Packet, type Stat } from './proto.js';

/** The entries a shared directory may have: their list is held while the files are asked for. */
const MAX_ENTRIES = 1_000_000;

/** How far ahead of the file being written files are asked for: by count and by announced size. */
const MAX_FILES_AHEAD = 128;
const MAX_BYTES_AHEAD = 4 << 20;

export interface SyncRequest {
  /** The name the client shares the directory under: `context`, `dockerfile`. */
  dirName: string;
  includePatterns?: string[];
  excludePatterns?: string[];
  followPaths?: string[];
}

/** An entry as a tar header; a regular file's body is read through `body` before the next entry. */
export type EntrySink = (header: TarWriteHeader, body?: AsyncIterable<Buffer>) => Promise<void>;

/** The tar header of an fsutil entry, or null for what a tar cannot hold (a socket). */
export function tarHeaderOf(stat: Stat): TarWriteHeader | null {
  const { type, perm } = fromGoFileMode(stat.mode);
  const base = { name: stat.path, mode: perm, uid: stat.uid, gid: stat.gid, mtime: Math.floor(stat.modTime / 1e9) };
  const xattrs = Object.keys(stat.xattrs).length ? new Map(Object.entries(stat.xattrs)) : undefined;
  switch (type) {
    case 'file':
      if (stat.linkname) return { ...base, type: 'link', linkname: stat.linkname };
      return { ...base, type: 'file', size: stat.size, ...(xattrs ? { xattrs } : {}) };
    case 'directory':
      return { ...base, name: `${stat.path}/`, type: 'directory', ...(xattrs ? { xattrs } : {}) };
    case 'symlink':
      return { ...base, type: 'symlink', linkname: stat.linkname };
    case 'fifo':
      return { ...base, type: 'fifo' };
    case 'char':
    case 'block':
      return { ...base, type, devmajor: stat.devmajor, devminor: stat.devminor };
    default:
      return null;
  }
}

/** Wire paths are relative, slash-separated and clean; anything else is the client's error. */
function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.includes('\0') || path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new GrpcError(Status.INVALID_ARGUMENT, `invalid path in the shared directory: ${JSON.stringify(path)}`);
  }
}

/**
 * Receives the directory `req` names from the session, handing each entry to `sink` in the
 * client's walk order. Returns the number of file bytes received.
 */
export async function receiveDirectory(client: GrpcClient, req: SyncRequest, sink: EntrySink, signal: AbortSignal): Promise<number> {
  const metadata: Record<string, string | string[]> = {};
  const put = (key: string, values: string[] | undefined) => {
    if (!values?.length) return;
    // BuildKit's encoding for what a header cannot carry as it is (node would write it as latin1):
    // all the key's values escaped, and `<key>-encoded` for fsutil's sender to unescape them.
    if (!values.some((v) => /[^\x00-\x7f]/.test(v))) {
      metadata[key] = values;
      return;
    }
    metadata[key] = values.map(goQueryEscape);
    metadata[`${key}-encoded`] = '1';
  };
  put('dir-name', [req.dirName]);
  put('include-patterns', req.includePatterns);
  put('exclude-patterns', req.excludePatterns);
  put('followpaths', req.followPaths);
  const call = client.call('/moby.filesync.v1.FileSync/DiffCopy', metadata, signal);
  const incoming = call.messages();
  const next = async (): Promise<Packet> => {
    const r = await incoming.next();
    if (r.done) throw new GrpcError(Status.UNAVAILABLE, 'the client ended the file transfer early');
    const p = messages.Packet.decode(r.value);
    if (p.type === PACKET_ERR) throw new GrpcError(Status.UNKNOWN, `error from sender: ${p.data.toString('utf8')}`);
    return p;
  };
  let bytes = 0;
  try {
    const entries: Array<{ id: number; stat: Stat }> = [];
    for (let id = 0; ; id++) {
      const p = await next();
      if (p.type !== PACKET_STAT) throw new GrpcError(Status.INVALID_ARGUMENT, `unexpected packet ${p.type} while receiving the file list`);
      if (!p.stat || p.stat.path === '') break;
      checkPath(p.stat.path);
      if (entries.length >= MAX_ENTRIES) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `the shared directory ${req.dirName} has more than ${MAX_ENTRIES} entries`);
      entries.push({ id, stat: p.stat });
    }
    const items = entries.flatMap(({ id, stat }) => {
      const header = tarHeaderOf(stat);
      return header ? [{ id, stat, header }] : [];
    });
    const files = items.filter((i) => i.header.type === 'file');
    // Files are asked for ahead of the one being written (each ask is a round trip to the
    // client), as long as what they announce fits the window; their data waits in memory.
    const buffers = new Map<number, { chunks: Buffer[]; size: number; got: number; ended: boolean }>();
    let nextAsk = 0;
    let aheadBytes = 0;
    const ask = async (current: number) => {
      while (nextAsk < files.length) {
        const f = files[nextAsk]!;
        const ahead = nextAsk > current;
        if (ahead && (nextAsk - current > MAX_FILES_AHEAD || aheadBytes + f.stat.size > MAX_BYTES_AHEAD)) break;
        await call.send(messages.Packet.encode({ type: PACKET_REQ, ID: f.id, data: Buffer.alloc(0) }));
        buffers.set(f.id, { chunks: [], size: f.stat.size, got: 0, ended: false });
        if (ahead) aheadBytes += f.stat.size;
        nextAsk++;
      }
    };
    /** Reads one packet into the buffer of the file it belongs to. */
    const pump = async () => {
      const p = await next();
      const buf = p.type === PACKET_DATA ? buffers.get(p.ID) : undefined;
      if (!buf || buf.ended) throw new GrpcError(Status.INVALID_ARGUMENT, `unexpected packet ${p.type} for file ${p.ID}`);
      if (p.data.length === 0) buf.ended = true;
      // A file that grew after its stat still makes an entry of the announced size: the rest is dropped.
      const keep = p.data.subarray(0, Math.max(0, buf.size - buf.got));
      buf.got += p.data.length;
      if (keep.length) buf.chunks.push(keep);
    };
    let fileIndex = 0;
    for (const { id, stat, header } of items) {
      if (header.type !== 'file') {
        await sink(header);
        continue;
      }
      // Asked for ahead of time: no longer ahead.
      if (fileIndex < nextAsk) aheadBytes -= stat.size;
      await ask(fileIndex++);
      const buf = buffers.get(id)!;
      const body = async function* (): AsyncGenerator<Buffer> {
        for (;;) {
          while (buf.chunks.length) yield buf.chunks.shift()!;
          if (buf.ended) break;
          await pump();
        }
        // The tar writer would pad a short file with zeros: a size announced and never sent must
        // not make the daemon write it (a few bytes could ask for terabytes).
        if (buf.got < buf.size) throw new GrpcError(Status.INVALID_ARGUMENT, `${stat.path} changed while it was sent: ${buf.got} of ${buf.size} bytes came`);
      };
      // The tar entry is exactly the size the client announced; what the writer did not take of a
      // file that grew is still read up to the file's end.
      await sink(header, body());
      while (!buf.ended) await pump();
      buffers.delete(id);
      bytes += buf.got;
    }
    await call.send(messages.Packet.encode({ type: PACKET_FIN, ID: 0, data: Buffer.alloc(0) }));
    for (;;) {
      const r = await incoming.next();
      if (r.done) break;
      if (messages.Packet.decode(r.value).type === PACKET_FIN) {
        call.closeSend();
      }
    }
    return bytes;
  } catch (err) {
    call.cancel();
    throw err;
  }
}
