/**
 * The local host's HTTP front on one port, as the Functions host has it: every HTTP function of
 * `functions/definitions.ts` under `/api/<route>`, built into the same `HttpRequest` and
 * `InvocationContext` objects so handlers cannot tell the difference, plus the host's own routes
 * (`/runtime/webhooks/…`, `/admin/…`) and the local host's (`/api/health`, `/api/dev/…`), which
 * dev/routes.ts defines. Function keys are not checked, as under Core Tools.
 *
 * Listening on 127.0.0.1 keeps other machines out, not the web pages the developer's browser opens:
 * a page can POST to 127.0.0.1 (a cross-origin "simple request" is sent, only its answer is hidden),
 * and a DNS name rebound to 127.0.0.1 reaches the host under a foreign `Host`. So before anything is
 * read, a request whose `Host` or `Origin` is not loopback is refused (403); a body must declare JSON
 * (415), which a page cannot do without a CORS preflight that this host never grants; and a body is
 * read up to MAX_BODY_BYTES only (413), the rest left unread.
 */
import * as http from 'node:http';
import { HttpRequest, HttpResponse, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { HttpFunctionDefinition } from '../functions/definitions';
import { internalError, isJsonContentType, notJsonAnswer } from '../shared/host/http';
import { type DevLog, invokeFunction } from './invoke';

/** Most bytes of a request body the host reads: far above any run request or event batch it serves. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Host names that reach this machine's loopback interface only (as `URL.hostname` spells them). */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A request to a built-in route. */
export interface RouteRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  /** Captured `{name}` segments of the route. */
  params: Record<string, string>;
}

/** What a built-in route answers; a non-Buffer, non-string body is sent as JSON. */
export interface RouteResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A route of the host itself. */
export interface BuiltinRoute {
  method: string;
  /** Path pattern with `{name}` segments; a trailing `*` matches the rest (captured as `rest`). */
  path: string;
  /** Leave successful requests out of the log (status polling). */
  quiet?: boolean;
  handle(request: RouteRequest): Promise<RouteResponse>;
}

/** Calls an HTTP function's handler (the host decides which extra arguments it gets). */
export type HttpInvoker = (definition: HttpFunctionDefinition, request: HttpRequest, context: InvocationContext) => unknown;

interface Matcher {
  pattern: RegExp;
  names: string[];
}

function compile(path: string): Matcher {
  const names: string[] = [];
  const wildcard = path.endsWith('/*');
  const segments = (wildcard ? path.slice(0, -2) : path).split('/');
  const source = segments
    .map((segment) => {
      const m = /^\{(\*?)(\w+)\??\}$/.exec(segment);
      if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[2]);
      // `{*name}` is the Functions host's catch-all: the rest of the path, slashes included.
      return m[1] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  if (wildcard) names.push('rest');
  return { pattern: new RegExp(`^${source}${wildcard ? '(?:/(.*))?' : '/?'}$`, 'i'), names };
}

function isLoopback(hostAndPort: string, scheme = 'http:'): boolean {
  try {
    const url = new URL(`${scheme}//${hostAndPort}`);
    return LOOPBACK_HOSTS.has(url.hostname) && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** Why a request is refused before its body is read, or null. */
function refusal(req: http.IncomingMessage): { status: number; error: string } | null {
  const host = req.headers.host;
  // HTTP/1.0 clients may send no Host; browsers always send one.
  if (host !== undefined && !isLoopback(host))
    return { status: 403, error: `the local host answers only requests addressed to 127.0.0.1, localhost or [::1], not Host '${host.slice(0, 100)}'` };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const parsed = /^(https?:)\/\/([^/]+)$/.exec(origin);
    if (!parsed || !isLoopback(parsed[2], parsed[1]))
      return {
        status: 403,
        error: `the local host answers no cross-origin request (Origin '${origin.slice(0, 100)}'); only pages served from 127.0.0.1, localhost or [::1]`,
      };
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES)
    return { status: 413, error: `the body (${declared} bytes) is larger than the local host's limit of ${MAX_BODY_BYTES} bytes` };
  const hasBody = (declared !== undefined && Number(declared) > 0) || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !isJsonContentType(req.headers['content-type'])) return { status: 415, error: notJsonAnswer(req.headers['content-type']).body.error };
  return null;
}

/**
 * Read a request's body, at most `limit` bytes.
 *
 * @returns the body, or null when it is longer than the limit (reading stops there, the rest is left unread)
 * @throws Error when the client goes away before the body ends
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      done();
      req.pause();
      resolve(null);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(new Error('the client closed the connection before the body ended'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** Time a client still sending a body gets to read the 413 before the connection is dropped. */
const LINGER_MS = 2000;

/** Answer a request refused before its body was read, and close the connection. */
function refuse(res: http.ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(JSON.stringify({ error }));
}

/**
 * Answer 413 to a request whose body was read up to the limit, then drop the connection without
 * reading more. Closing at once would reset it while the client is still sending, and a client that
 * is writing sees the reset before the answer; so the connection stays open, unread, a moment first.
 */
function refuseRestOfBody(req: http.IncomingMessage, res: http.ServerResponse, error: string): void {
  const socket = req.socket;
  res.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref());
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error }));
}

function match(m: Matcher, pathname: string): Record<string, string> | null {
  const found = m.pattern.exec(pathname);
  if (!found) return null;
  return Object.fromEntries(m.names.map((n, i) => [n, found[i + 1] === undefined ? '' : decodeURIComponent(found[i + 1])]));
}

/**
 * Start serving.
 *
 * @param options port (0 for a free one), HTTP functions, how to call them, built-in routes, log
 * @returns the listening server and its port
 * @throws Error saying the port is taken (EADDRINUSE) or cannot be used
 */
export async function serveHttp(options: {
  port: number;
  functions: readonly HttpFunctionDefinition[];
  invoke: HttpInvoker;
  routes: readonly BuiltinRoute[];
  log: DevLog;
}): Promise<{ server: http.Server; port: number }> {
  const { log } = options;
  const functions = options.functions.map((definition) => ({ definition, matcher: compile(`/api/${definition.route}`) }));
  const builtins = options.routes.map((route) => ({ route, matcher: compile(route.path) }));

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    // A malformed Host header or a client that hangs up mid-body must cost one request, not the host.
    let url: URL;
    let body: Buffer;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const refused = refusal(req);
      if (refused) {
        log(`${method} ${url.pathname} → ${refused.status} (${refused.error})`);
        refuse(res, refused.status, refused.error);
        return;
      }
      const read = await readBody(req, MAX_BODY_BYTES);
      if (read === null) {
        log(`${method} ${url.pathname} → 413 (body over ${MAX_BODY_BYTES} bytes)`);
        refuseRestOfBody(req, res, `the body is larger than the local host's limit of ${MAX_BODY_BYTES} bytes`);
        return;
      }
      body = read;
    } catch (err) {
      log(`${method} ${req.url ?? ''} → 400 (${(err as Error).message})`);
      if (!res.headersSent && res.writable)
        res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: `bad request: ${(err as Error).message}` }));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    let status = 500;
    let quiet = false;
    let what = 'no route';
    try {
      for (const { route, matcher } of builtins) {
        const params = route.method === method || route.method === '*' ? match(matcher, url.pathname) : null;
        if (!params) continue;
        quiet = route.quiet === true;
        what = route.path;
        const answer = await route.handle({ method, url, headers, body, params });
        status = answer.status;
        const isRaw = Buffer.isBuffer(answer.body) || typeof answer.body === 'string';
        const payload = answer.body === undefined ? '' : isRaw ? (answer.body as string | Buffer) : JSON.stringify(answer.body, null, 2);
        res.writeHead(status, { ...(isRaw || answer.body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...answer.headers });
        res.end(payload);
        return;
      }
      for (const { definition, matcher } of functions) {
        const params = definition.methods.includes(method as never) ? match(matcher, url.pathname) : null;
        if (!params) continue;
        what = definition.name;
        const request = new HttpRequest({ method, url: url.href, headers, params, body: body.length ? { bytes: body } : undefined });
        const result = await invokeFunction(definition.name, log, async (context) => options.invoke(definition, request, context));
        const response = result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
        status = response.status;
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, key) => (responseHeaders[key] = value));
        res.writeHead(status, responseHeaders);
        res.end(Buffer.from(await response.arrayBuffer()));
        return;
      }
      status = 404;
      const known = [
        ...functions.map((f) => `${f.definition.methods.join(',')} /api/${f.definition.route}`),
        ...builtins.map((b) => `${b.route.method} ${b.route.path}`),
      ];
      res
        .writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify({ error: `nothing serves ${method} ${url.pathname}`, routes: known }, null, 2));
    } catch (err) {
      status = 500;
      const answer = internalError(`${method} ${url.pathname} [${what}]`, err, log);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(answer.body));
    } finally {
      if (!(quiet && status < 400)) log(`${method} ${url.pathname}${url.search} → ${status} (${Date.now() - started} ms) [${what}]`);
    }
  };
  // `answer` catches what the request's handling throws; a throw from its own last resort (a log line
  // or a write to a socket already gone) must still not become an unhandled rejection of the host.
  const server = http.createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      log(`${req.method ?? 'GET'} ${req.url ?? '/'}: could not answer: ${(err as Error).message}`);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new Error(`port ${options.port} is already in use (is another 'npm start' or 'func start' running?); choose another with --port`));
      else reject(new Error(`cannot listen on 127.0.0.1:${options.port}: ${err.message}`));
    });
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port };
}
