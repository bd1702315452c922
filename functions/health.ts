/**
 * `GET /api/health`, reachable without a function key: answers 200 when the app has started (its
 * settings and pipeline definitions passed start-up validation, or it would not be running) and can
 * list the landing container with its identity, 503 otherwise. Deployment checks (the CI smoke test,
 * a load balancer's probe) use it; it says nothing a caller without a key should not know: no names,
 * no settings, only counts and the Node version. The local host answers the same path with its own,
 * more detailed health (dev/routes.ts).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime, type SluiceRuntime } from '../shared/host';
import { internalError } from '../shared/host/http';

/** The handler registered in definitions.ts. */
export async function healthHttp(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return checkHealth(getRuntime(), context);
}

/**
 * Check the runtime can reach its storage.
 * @param runtime the app's runtime
 * @param context for the log line of a failure (with the id the answer carries)
 * @returns 200 `{ status: 'healthy', … }`, or 503 `{ status: 'unhealthy', reason, errorId }`
 */
export async function checkHealth(runtime: SluiceRuntime, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    for await (const _ of runtime.landing.list('')) break;
  } catch (err) {
    const failure = internalError('health', err, (line) => context.error(line));
    return { status: 503, jsonBody: { status: 'unhealthy', reason: 'the landing container cannot be listed', errorId: failure.body.errorId } };
  }
  return { status: 200, jsonBody: { status: 'healthy', node: process.version, pipelines: runtime.pipelines.length } };
}
