/**
 * The server's optional metrics endpoint (`--metrics-port N`): GET
 * /metrics answers the Prometheus text exposition (metrics.ts) from the
 * server's main thread; anything else is a 404 (405 for another method).
 * It listens on 127.0.0.1 unless told otherwise: the counters say nothing
 * secret, but a cache's server has no business listening on every
 * interface by default.
 */
import * as http from 'node:http';
import { ServerError } from '../errors';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Start listening; resolves once bound (ServerError when the port is taken). */
export function startMetricsServer(port: number, host: string, text: () => string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = text();
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ServerError(`cannot serve metrics on ${host}:${port}: ${e.code ?? e.message}`)));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.unref();
      resolve(server);
    });
  });
}
