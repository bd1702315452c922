/**
 * Which source a landing blob belongs to. The event path (Event Grid BlobCreated) and the reconcile
 * listing both route here, so they agree on every blob. A landing folder is normalised to end with `/`
 * (no leading `/`; `''` or `/` means the whole container); the loader refuses sources whose folders
 * overlap, so the longest matching prefix is also the only one.
 */
import type { PipelineDefinition, SourceDefinition } from './types';

/**
 * Normalise a landing folder: no leading `/`, a trailing `/` unless empty.
 *
 * @param prefix as written
 * @returns the folder prefix
 */
export function normaliseLanding(prefix: string): string {
  const trimmed = prefix.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/**
 * The source a landing blob belongs to: the one whose landing folder is the longest prefix of the
 * blob's path.
 *
 * @param definition the pipeline definition
 * @param blobPath path of the blob inside the landing container
 * @returns the source, or null when no source takes the blob (or it is a folder marker)
 */
export function routeBlob(definition: PipelineDefinition, blobPath: string): SourceDefinition | null {
  const path = blobPath.replace(/^\/+/, '');
  if (!path || path.endsWith('/')) return null;
  let best: SourceDefinition | null = null;
  for (const source of Object.values(definition.sources)) {
    if (source.landing === undefined || !path.startsWith(source.landing)) continue;
    if (!best || source.landing.length > best.landing!.length) best = source;
  }
  return best;
}
