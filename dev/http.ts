/**
 * The local host's HTTP front on one port, as the Functions host has it: every HTTP function of
 * `functions/definitions.ts` under `/api/<route>`, built into the same `HttpRequest` and
 * `InvocationContext` objects so handlers cannot tell the difference, plus the host's own routes
 * (`/runtime/webhooks/…`, `/admin/…`) and the local host's (`/api/health`, `/api/dev/…`), which
 * dev/routes.ts defines. Function keys are not checked, as under Core Tools.
 */
import * as http from 'node:http';
import { HttpRequest, HttpResponse, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { HttpFunctionDefinition } from '../functions/definitions';
import { type DevLog, invokeFunction } from './invoke';

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
export async function serveHttp(options: { port: number; functions: readonly HttpFunctionDefinition[]; invoke: HttpInvoker; routes: readonly BuiltinRoute[]; log: DevLog }): Promise<{ server: http.Server; port: number }> {
  const { log } = options;
  const functions = options.functions.map((definition) => ({ definition, matcher: compile(`/api/${definition.route}`) }));
  const builtins = options.routes.map((route) => ({ route, matcher: compile(route.path) }));

  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    // A malformed Host header or a client that hangs up mid-body must cost one request, not the host.
    let url: URL;
    let body: Buffer;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
    } catch (err) {
      log(`${method} ${req.url ?? ''} → 400 (${(err as Error).message})`);
      if (!res.headersSent && res.writable) res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: `bad request: ${(err as Error).message}` }));
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
      const known = [...functions.map((f) => `${f.definition.methods.join(',')} /api/${f.definition.route}`), ...builtins.map((b) => `${b.route.method} ${b.route.path}`)];
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: `nothing serves ${method} ${url.pathname}`, routes: known }, null, 2));
    } catch (err) {
      status = 500;
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    } finally {
      if (!(quiet && status < 400)) log(`${method} ${url.pathname}${url.search} → ${status} (${Date.now() - started} ms) [${what}]`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new Error(`port ${options.port} is already in use (is another 'npm start' or 'func start' running?); choose another with --port`));
      else reject(new Error(`cannot listen on 127.0.0.1:${options.port}: ${err.message}`));
    });
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port };
}
