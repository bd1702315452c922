/**
 * Transient or terminal: the one question a trigger adapter asks about a failure. Transient failures
 * are rethrown so the trigger delivers the work again (Event Grid redelivers, the Event Hubs retry
 * policy re-runs the batch). Terminal ones would fail the same way again: bad input is dead-lettered
 * by the ingest stage; a landing file whose attempt failed otherwise is counted in its ledger entry and
 * redelivered until `SLUICE_POISON_ATTEMPTS`, then dead-lettered whole as poison; an Event Hubs batch
 * is dead-lettered at once (its checkpoint must move on).
 */

/** HTTP statuses of Azure SDK errors (blob, table) worth retrying. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Node network error codes worth retrying. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
]);

/**
 * Whether retrying the same work later may succeed: a storage, Delta or Azure SDK error that says so
 * (its own `transient` flag, a throttling/server/timeout status, a network error code), here or in
 * its `cause` chain.
 *
 * @param err what was thrown
 * @returns true for transient failures
 */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const candidate = e as { transient?: unknown; statusCode?: unknown; code?: unknown; name?: unknown };
    if (typeof candidate.transient === 'boolean') return candidate.transient;
    if (typeof candidate.statusCode === 'number' && TRANSIENT_STATUS.has(candidate.statusCode)) return true;
    if (typeof candidate.code === 'string' && TRANSIENT_CODES.has(candidate.code)) return true;
    if (candidate.name === 'AbortError' || candidate.name === 'TimeoutError') return true;
  }
  return false;
}

/**
 * The message of an error with its causes, for one log line.
 *
 * @param err what was thrown
 * @returns `message (cause: message …)`
 */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (!parts.some((p) => p.includes(message))) parts.push(message);
    if (typeof e !== 'object') break;
  }
  return parts.join(' (cause: ') + ')'.repeat(Math.max(0, parts.length - 1));
}
