/**
 * Merging the requests that reach a running refresh. A pipeline has one instance, so every trigger
 * while it runs becomes one more run of it; several triggers must then collapse into ONE run that
 * does what each of them asked. Without merging, the last request wins and a full refresh asked
 * during a run can be replaced by a plain catch-up, silently dropping the rebuild someone asked for.
 *
 * The merged request rebuilds every table any of them asked to rebuild (`true` wins, table lists are
 * united), keeps their reasons (distinct, bounded) and carries every request id, so a caller waiting
 * for "its" run recognises the merged run as its own. The orchestrator applies it to the `catchUp`
 * events it finds buffered before it continues as new.
 */

/** What a trigger asks of a running refresh (the `catchUp` event's data). */
export interface CatchUpRequest {
  fullRefresh?: boolean | string[];
  reason?: string;
  /** Ids of the requests this one stands for. */
  requests?: string[];
}

/** Most reasons a merged request keeps (the first ones and the latest). */
const MAX_REASONS = 8;
/** Most request ids a merged request keeps (the latest). */
const MAX_REQUESTS = 100;

/**
 * The full refresh two requests together ask for.
 *
 * @param a one request's `fullRefresh`
 * @param b the other's
 * @returns `true` when either asks for everything, else the union of the table lists (or false)
 */
export function mergeFullRefresh(a: boolean | string[] | undefined, b: boolean | string[] | undefined): boolean | string[] {
  if (a === true || b === true) return true;
  const tables = [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])];
  return tables.length ? [...new Set(tables)] : false;
}

function mergeReasons(a: string | undefined, b: string | undefined): string | undefined {
  const parts = [...new Set([a, b].flatMap((r) => (r ? r.split('; ') : [])).filter((r) => r.length > 0))];
  if (parts.length === 0) return undefined;
  const kept = parts.length > MAX_REASONS ? [...parts.slice(0, MAX_REASONS - 2), '…', parts[parts.length - 1]] : parts;
  return kept.join('; ');
}

/**
 * One request standing for two: the later one's settings, both rebuilds, reasons and request ids.
 *
 * @param previous the request already waiting
 * @param next the request arriving
 * @returns the merged request
 */
export function mergeCatchUp<T extends CatchUpRequest>(previous: CatchUpRequest | undefined, next: T): T {
  if (!previous) return next;
  const reason = mergeReasons(previous.reason, next.reason);
  const requests = [...new Set([...(previous.requests ?? []), ...(next.requests ?? [])])].slice(-MAX_REQUESTS);
  const merged: T = { ...next, fullRefresh: mergeFullRefresh(previous.fullRefresh, next.fullRefresh) };
  if (reason !== undefined) merged.reason = reason;
  if (requests.length) merged.requests = requests;
  return merged;
}
