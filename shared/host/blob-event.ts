/**
 * What a BlobCreated event says: which blob (container and path) in which version (ETag). Event Grid
 * delivers it in its own schema (`eventType`, `subject`, `data`) or as a CloudEvent (`type`,
 * `subject`, `data`); the blob is named by the subject
 * `/blobServices/default/containers/<container>/blobs/<path>`, and by `data.url` (percent-encoded,
 * `https://<account>.blob|dfs.core.windows.net/<container>/<path>` or Azurite's path-style
 * `http://127.0.0.1:10000/<account>/<container>/<path>`), which is used when the subject is missing.
 *
 * On accounts with a hierarchical namespace a DFS upload raises BlobCreated twice: for `CreateFile`
 * (an empty file) and for `FlushWithClose` (the content). Only the second is worth ingesting; the
 * first is ignored here even if the subscription's filter lets it through.
 */

/** The event type ingested. */
export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';

/** A blob version to ingest. */
export interface BlobCreated {
  kind: 'blob';
  container: string;
  /** Blob path inside the container. */
  path: string;
  /** ETag the event names (absent in hand-made events). */
  etag?: string;
  /** Storage operation that created it (`PutBlob`, `PutBlockList`, `CopyBlob`, `FlushWithClose`, …). */
  api?: string;
  /** Event id, for logs. */
  id?: string;
}

/** An event that names nothing to ingest, and why. */
export interface IgnoredEvent {
  kind: 'ignored';
  reason: string;
}

const SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;
/** Operations that create a blob without its final content. */
const INCOMPLETE_APIS = new Set(['CreateFile']);

/**
 * Read a BlobCreated event (Event Grid or CloudEvents schema).
 *
 * @param event the event as the trigger hands it over
 * @returns the blob, or why the event is ignored
 */
export function parseBlobCreatedEvent(event: unknown): BlobCreated | IgnoredEvent {
  if (!event || typeof event !== 'object') return { kind: 'ignored', reason: `not an event object (${typeof event})` };
  const e = event as Record<string, unknown>;
  const type = typeof e.eventType === 'string' ? e.eventType : typeof e.type === 'string' ? e.type : undefined;
  if (type !== BLOB_CREATED) return { kind: 'ignored', reason: `event type ${type ?? '(none)'} is not ${BLOB_CREATED}` };
  let data = e.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      data = undefined;
    }
  }
  const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const api = typeof d.api === 'string' ? d.api : undefined;
  const id = typeof e.id === 'string' ? e.id : undefined;
  if (api && INCOMPLETE_APIS.has(api)) return { kind: 'ignored', reason: `${api} creates an empty file; the FlushWithClose event carries its content` };

  const blob = fromSubject(e.subject) ?? fromUrl(d.url);
  if (!blob) return { kind: 'ignored', reason: `neither subject (${JSON.stringify(e.subject)}) nor data.url (${JSON.stringify(d.url)}) names a blob` };
  const etag = typeof d.eTag === 'string' ? d.eTag : typeof d.etag === 'string' ? d.etag : undefined;
  return { kind: 'blob', ...blob, ...(etag ? { etag } : {}), ...(api ? { api } : {}), ...(id ? { id } : {}) };
}

function fromSubject(subject: unknown): { container: string; path: string } | null {
  if (typeof subject !== 'string') return null;
  const m = SUBJECT.exec(subject);
  return m ? { container: m[1], path: m[2] } : null;
}

function fromUrl(value: unknown): { container: string; path: string } | null {
  if (typeof value !== 'string') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
  // Path-style (emulator, IP or custom endpoint) URLs start with the account name.
  if (!/\.(blob|dfs)\./i.test(url.hostname)) segments = segments.slice(1);
  if (segments.length < 2) return null;
  return { container: segments[0], path: segments.slice(1).join('/') };
}
