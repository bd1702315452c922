/**
 * The local host's HTTP front: serves every HTTP function of `functions/definitions.ts` under
 * `/api/<route>` the way the Functions host does, building the same `HttpRequest` and
 * `InvocationContext` objects, so handlers cannot tell the difference.
 */
import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import { HttpRequest, HttpResponse, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { HttpFunctionDefinition } from '../functions/definitions';

interface CompiledRoute {
  definition: HttpFunctionDefinition;
  pattern: RegExp;
  names: string[];
}

function compile(definition: HttpFunctionDefinition): CompiledRoute {
  const names: string[] = [];
  const source = definition.route
    .split('/')
    .map((segment) => {
      const m = /^\{(\w+)\??\}$/.exec(segment);
      if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '([^/]+)';
    })
    .join('/');
  return { definition, pattern: new RegExp(`^/api/${source}/?$`, 'i'), names };
}

/**
 * Start serving HTTP functions.
 *
 * @param definitions the HTTP function definitions
 * @param port TCP port on 127.0.0.1
 * @param log where request lines go
 * @returns the listening server
 */
export async function serveHttpFunctions(definitions: HttpFunctionDefinition[], port: number, log: (line: string) => void): Promise<http.Server> {
  const routes = definitions.map(compile);
  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `127.0.0.1:${port}`}`);
    const route = routes.find((r) => r.pattern.test(url.pathname) && r.definition.methods.includes((req.method ?? 'GET').toUpperCase() as never));
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no function serves ${req.method} ${url.pathname}` }));
      return;
    }
    const match = route.pattern.exec(url.pathname)!;
    const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1])]));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    const request = new HttpRequest({ method: req.method, url: url.href, headers, params, body: chunks.length ? { bytes: Buffer.concat(chunks) } : undefined });
    const context = new InvocationContext({ invocationId: randomUUID(), functionName: route.definition.name, logHandler: (level, ...args) => log(`[${route.definition.name}] ${level}: ${args.join(' ')}`) });
    let status = 500;
    try {
      const result = await route.definition.handler(request, context);
      const response = result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
      status = response.status;
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, key) => (responseHeaders[key] = value));
      res.writeHead(status, responseHeaders);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message }));
    } finally {
      log(`${req.method} ${url.pathname}${url.search} → ${status} (${Date.now() - started} ms) [${route.definition.name}]`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}
