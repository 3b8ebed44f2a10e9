import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpRequest, HttpResponse } from '../http/types.ts';
import type { Log } from '../ports.ts';

export interface LocalHttpServerOptions {
  readonly route: (request: HttpRequest) => Promise<HttpResponse>;
  readonly log: Log;
  /** Bodies past this are not buffered; the route sees `bodyTooLarge` and answers 413. */
  readonly maxBodyBytes: number;
  /**
   * How long a client may take to send its headers, and its whole request. Node's defaults (60 s and
   * 300 s) let a handful of slow clients hold sockets for minutes.
   * @default { headersMs: 10_000, requestMs: 30_000 }
   */
  readonly timeouts?: { readonly headersMs: number; readonly requestMs: number };
  /** Connections beyond this are refused at once. @default 256 */
  readonly maxConnections?: number;
}

export interface LocalHttpServer {
  listen(port: number): Promise<number>;
  /**
   * Stops taking connections and lets requests already being handled finish and answer, for at most
   * `drainMs`; then closes every connection left.
   */
  close(drainMs: number): Promise<void>;
}

const DEFAULT_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000 };

/** Reads a request body, refusing to buffer more than `limit` bytes (the handler then answers 413). */
function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        // Drain a little for a clean 413, but never let a client stream forever.
        if (size > limit * 4) {
          req.pause();
          done({ body: Buffer.alloc(0), tooLarge });
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => done({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    req.on('error', fail);
  });
}

/**
 * The request target as a URL on this server, or undefined when it is not origin-form (`/path?query`).
 * Prefixing the origin, rather than resolving against it, keeps `//host` or `/\host` a path here.
 */
export function parseTarget(target: string | undefined): URL | undefined {
  if (!target?.startsWith('/')) return undefined;
  try {
    return new URL(`http://127.0.0.1${target}`);
  } catch {
    return undefined;
  }
}

function answer(res: ServerResponse, response: HttpResponse) {
  res.writeHead(response.statusCode, response.headers).end(response.body);
}

const plainError = (
  statusCode: number,
  error: string,
  headers: Record<string, string> = {},
): HttpResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify({ error }),
});

/** The local runtime's HTTP front: the same routes API Gateway serves, on 127.0.0.1. */
export function createLocalHttpServer(options: LocalHttpServerOptions): LocalHttpServer {
  const { route, log } = options;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const inFlight = new Set<Promise<void>>();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    if (draining) {
      // Alertmanager retries a 5xx, so a delivery that lands while we stop is not lost.
      res.shouldKeepAlive = false;
      answer(res, plainError(503, 'stopping', { 'retry-after': '5' }));
      return;
    }
    const url = parseTarget(req.url);
    if (!url) {
      answer(res, plainError(400, 'bad request target'));
      return;
    }
    try {
      const { body, tooLarge } = await readBody(req, options.maxBodyBytes);
      const response = await route({
        method: req.method ?? 'GET',
        path: url.pathname,
        // headersDistinct, not headers: Node keeps only the first of repeated Authorization (and
        // other singleton) headers, which would let "valid, then anything" through. Joined as API
        // Gateway joins them, so a repeated credential is refused the same way in both places.
        headers: Object.fromEntries(
          Object.entries(req.headersDistinct).map(([name, values]) => [name, values?.join(', ')]),
        ),
        query: Object.fromEntries(url.searchParams),
        body,
        bodyTooLarge: tooLarge,
      });
      // Once stopping, the connection closes after this answer instead of waiting for another request.
      if (draining) res.shouldKeepAlive = false;
      answer(res, response);
      log.debug(
        `${req.method} ${url.pathname} ${response.statusCode} ${(performance.now() - started).toFixed(1)}ms`,
      );
    } catch (error) {
      log.error('request failed', { error: (error as Error).message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}');
    }
  };

  const server: Server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      // Node checks both timeouts on this interval (30 s by default), which would stretch a short one.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 2))),
    },
    (req, res) => {
      const run = handle(req, res).catch((error: Error) => {
        log.error('request failed', { error: error.message });
        res.destroy();
      });
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    },
  );
  // Without a listener Node drops a CONNECT without a word; every request line gets an HTTP answer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.keepAliveTimeout = 5000;
  server.maxConnections = options.maxConnections ?? 256;

  return {
    listen(port) {
      return new Promise((resolvePort, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolvePort((server.address() as AddressInfo).port);
        });
      });
    },
    async close(drainMs) {
      draining = true;
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((done) => {
        timer = setTimeout(() => done('timeout'), drainMs);
      });
      const drained = (async () => {
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      })();
      const outcome = await Promise.race([drained.then(() => 'drained' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        log.warn(
          `stopped waiting for ${inFlight.size} request(s) after ${drainMs} ms; their clients will retry`,
        );
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
