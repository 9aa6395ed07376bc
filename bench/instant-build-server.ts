/**
 * The client's floor for `docker build`: an Engine API server on a unix socket that answers
 * /_ping as wharfd does (Builder-Version: 1, so the Docker CLI takes the classic builder) and
 * /build at once, after reading the whole context, with the messages a cached quiet build ends
 * with. What the Docker CLI costs on its own (start-up, packing and sending the context,
 * reading the answer) is all that is left to time.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';

const HEADERS = { 'Api-Version': '1.50', 'Docker-Experimental': 'false', Ostype: 'linux', Server: 'Wharf (linux)' };
const ID = `sha256:${'0'.repeat(64)}`;

export async function startInstantBuildServer(socket: string): Promise<{ host: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '';
      if (/^(?:\/v[\d.]+)?\/_ping(?:\?|$)/.test(url)) {
        res.writeHead(200, { ...HEADERS, 'Builder-Version': '1', Swarm: 'inactive', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
      } else if (/^(?:\/v[\d.]+)?\/build(?:\?|$)/.test(url) && req.method === 'POST') {
        res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ aux: { ID } })}\r\n${JSON.stringify({ stream: `${ID}\n` })}\r\n`);
      } else {
        res.writeHead(404, { ...HEADERS, 'Content-Type': 'application/json' });
        res.end('{"message":"page not found"}\n');
      }
    });
  });
  server.listen(socket);
  await once(server, 'listening');
  return { host: `unix://${socket}`, close: () => new Promise<void>((res) => server.close(() => res())) };
}
