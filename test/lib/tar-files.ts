/** The regular files of a tar (as `docker save` writes one), by name. */
import { Readable } from 'node:stream';
import tar from 'tar-stream';

export async function tarFiles(buf: Buffer): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const files = new Map<string, Buffer>();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      if (e.header.type === 'file') files.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  Readable.from([buf]).pipe(ex);
  await done;
  return files;
}
