/**
 * Rules every HTTP answer of the app follows, whichever host serves it (the Functions host through
 * functions/, the local host through dev/http.ts):
 * - an unexpected failure is answered with an id, never with its message: messages of storage and
 *   SDK errors carry account URLs, paths and request ids a caller has no business seeing. The detail
 *   goes to the log under the same id, so whoever reads the log finds it;
 * - a request body is JSON (or NDJSON) and says so in its `Content-Type`. A web page can send a
 *   cross-origin POST without asking first only as text/plain, a form or multipart, so refusing those
 *   keeps pages the developer visits from driving the local host.
 */
import { randomUUID } from 'node:crypto';
import { errorText } from '../errors';

/** An HTTP answer: status and JSON body. */
export interface HttpErrorAnswer {
  status: number;
  body: { error: string; errorId?: string };
}

/**
 * Log an unexpected failure with a fresh id and build the 500 answer that names only the id.
 *
 * @param where the function or route, for the log line
 * @param err what was thrown
 * @param log where the detail goes (the invocation's `context.error`, the local host's log)
 * @returns the 500 answer
 */
export function internalError(where: string, err: unknown, log: (line: string) => void): HttpErrorAnswer {
  const errorId = randomUUID();
  const stack = err instanceof Error && err.stack ? `\n${err.stack}` : '';
  log(`${where}: internal error ${errorId}: ${errorText(err)}${stack}`);
  return { status: 500, body: { error: `internal error; the app's log has the details under id ${errorId}`, errorId } };
}

/** Media types of the bodies the app reads: JSON, `…+json`, and NDJSON (events). */
const JSON_MEDIA_TYPE = /^application\/(?:json|[\w.-]+\+json|x-ndjson|ndjson)$/;

/**
 * Whether a `Content-Type` header declares JSON (or NDJSON), whatever its parameters.
 *
 * @param contentType the header, or undefined when absent
 * @returns true for `application/json`, `application/…+json`, `application/x-ndjson`, `application/ndjson`
 */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return JSON_MEDIA_TYPE.test(mediaType);
}

/**
 * The 415 answer to a body that does not declare JSON.
 *
 * @param contentType the header as sent
 * @returns the answer
 */
export function notJsonAnswer(contentType: string | null | undefined): HttpErrorAnswer {
  return {
    status: 415,
    body: {
      error: `the body must be sent as Content-Type: application/json, not ${contentType ? `'${contentType.slice(0, 100)}'` : 'without a Content-Type'}`,
    },
  };
}
