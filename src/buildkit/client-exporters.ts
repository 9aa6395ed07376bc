/**
 * BuildKit's exporters that write to the client (`docker build -o type=local,dest=dir` and
 * `-o type=tar,dest=file`): the built image's filesystem, flattened, sent on the session's
 * `FileSend/DiffCopy`. For `tar` the stream carries the archive's bytes (BytesMessage); for
 * `local` it carries fsutil's protocol with wharfd as the sender: one STAT per entry in walk order,
 * then the bytes of each file the client asks for, then FIN each way.
 *
 * The rootfs is a private read-only mount of the image: the walk descends only into real
 * directories (lstat) and opens files without following a final symlink.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContainerRoot } from '../containerfs/root.js';
import { fdPath } from '../lib/fd-path.js';
import { walkPool } from '../containerfs/walk-pool.js';
import { goFileMode } from '../lib/go-file-mode.js';
import { GrpcError, Status, type ClientCall, type GrpcClient } from './grpc.js';
import { messages, PACKET_DATA, PACKET_ERR, PACKET_FIN, PACKET_REQ, PACKET_STAT, type Stat } from './proto.js';

export const FILE_SEND = '/moby.filesync.v1.FileSend/DiffCopy';
const CHUNK = 32 << 10;

async function finish(call: ClientCall): Promise<void> {
  call.closeSend();
  for await (const _ of call.messages()) void _;
}

/** The image's filesystem as a tar, streamed to the client's file; `epoch` (seconds) dates every entry. Returns the bytes sent. */
export async function sendTar(client: GrpcClient, root: ContainerRoot, signal: AbortSignal, epoch?: number): Promise<number> {
  const call = client.call(FILE_SEND, {}, signal);
  const tar = walkPool.tar({ at: fdPath(root.fh), name: '', children: true }, epoch === undefined ? {} : { mtime: epoch });
  let sent = 0;
  try {
    for await (const chunk of tar as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += CHUNK) await call.send(messages.BytesMessage.encode({ data: chunk.subarray(off, off + CHUNK) }));
      sent += chunk.length;
    }
    await finish(call);
    return sent;
  } catch (err) {
    call.cancel();
    throw err;
  } finally {
    tar.destroy();
    await tar.stopped;
  }
}

interface Entry {
  rel: string;
  stat: Stat;
  isFile: boolean;
}

/** Walk order as fsutil's: each directory's entries sorted, a directory before what it holds. */
async function walk(base: string, rel: string, out: Entry[], epoch: number | undefined): Promise<void> {
  const names = (await readdir(rel ? join(base, rel) : base)).sort();
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(base, path)).catch(() => null);
    if (!st || st.isSocket()) continue;
    const stat: Stat = {
      path,
      mode: goFileMode(st.mode),
      uid: st.uid,
      gid: st.gid,
      size: st.isFile() ? st.size : 0,
      modTime: epoch === undefined ? Math.floor(st.mtimeMs) * 1e6 : epoch * 1e9,
      linkname: st.isSymbolicLink() ? await readlink(join(base, path)) : '',
      // Linux's dev_t: the major in bits 8-19, the minor in bits 0-7 and 20-31.
      devmajor: st.isCharacterDevice() || st.isBlockDevice() ? Math.floor(st.rdev / 256) & 0xfff : 0,
      devminor: st.isCharacterDevice() || st.isBlockDevice() ? (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00) : 0,
      xattrs: {},
    };
    out.push({ rel: path, stat, isFile: st.isFile() });
    if (st.isDirectory()) await walk(base, path, out, epoch);
  }
}

/** The image's filesystem into the client's directory (fsutil's sending side); `epoch` (seconds) dates every entry. Returns the file bytes sent. */
export async function sendDirectory(client: GrpcClient, root: ContainerRoot, signal: AbortSignal, epoch?: number): Promise<number> {
  const entries: Entry[] = [];
  await walk(root.hostPath, '', entries, epoch);
  const call = client.call(FILE_SEND, {}, signal);
  const packet = (type: number, fields: { stat?: Stat; ID?: number; data?: Buffer } = {}) =>
    call.send(messages.Packet.encode({ type, ID: fields.ID ?? 0, data: fields.data ?? Buffer.alloc(0), ...(fields.stat ? { stat: fields.stat } : {}) }));
  let sent = 0;
  try {
    for (const e of entries) await packet(PACKET_STAT, { stat: e.stat });
    await packet(PACKET_STAT);
    for await (const m of call.messages()) {
      const p = messages.Packet.decode(m);
      if (p.type === PACKET_ERR) throw new GrpcError(Status.UNKNOWN, `error from receiver: ${p.data.toString('utf8')}`);
      if (p.type === PACKET_FIN) {
        await packet(PACKET_FIN);
        call.closeSend();
        continue;
      }
      if (p.type !== PACKET_REQ) continue;
      const e = entries[p.ID];
      if (!e?.isFile) throw new GrpcError(Status.INVALID_ARGUMENT, `invalid file request ${p.ID}`);
      const fh = await open(join(root.hostPath, e.rel), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buf = Buffer.alloc(CHUNK);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
          if (bytesRead === 0) break;
          await packet(PACKET_DATA, { ID: p.ID, data: Buffer.from(buf.subarray(0, bytesRead)) });
          sent += bytesRead;
        }
      } finally {
        await fh.close();
      }
      await packet(PACKET_DATA, { ID: p.ID });
    }
    return sent;
  } catch (err) {
    call.cancel();
    throw err;
  }
}
