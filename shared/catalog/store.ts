/**
 * Where the catalog is kept: the Azure Table `SluiceCatalog` of the lake account (Azurite locally),
 * one row per table path (PartitionKey `table`, RowKey the encoded path).
 *
 * A row holds the entry's JSON (split over `json0…` properties, each under Table Storage's 64 KiB
 * limit), plus two small properties a listing reads alone: `summary` (the listing's fields) and
 * `search` (the text search matches), so listing a thousand tables never transfers their schemas.
 *
 * Writes from commits race: two files committing versions 7 and 8 of a table may record them in
 * either order. A write therefore names the ETag of the row it read and never replaces a newer
 * version of the same table; the loser reads again and gives way or retries.
 */
import type { TableClient } from '@azure/data-tables';
import { tableCreation } from '../storage/lake';
import { encodeKey } from '../storage/table-keys';
import type { CatalogEntry, CatalogSummary } from './types';

const PARTITION = 'table';
/** Characters per JSON part (a property holds 32 K UTF-16 characters). */
const PART = 30_000;
/** Characters of the search text kept (its property's limit). */
const SEARCH_MAX = 30_000;

/** A stored entry and the ETag to name when replacing it. */
export interface StoredEntry {
  entry: CatalogEntry;
  etag: string;
}

/** A listed row: the summary and the text search matches. */
export interface ListedEntry {
  summary: CatalogSummary;
  search: string;
}

/**
 * The listing's fields of an entry.
 *
 * @param entry the entry
 * @returns the summary
 */
export function summaryOf(entry: CatalogEntry): CatalogSummary {
  const { path, status, reason, layer, name, pipeline, version, rows, files, bytes, lastCommit, owner, tags, description, missingSince } = entry;
  return { path, status, reason, layer, name, pipeline, version, rows, files, bytes, lastCommit, owner, tags, description, missingSince };
}

/**
 * The text a search matches, lower-cased: table name and path, column names, description, column
 * comments and tags, one per line.
 *
 * @param entry the entry
 * @returns the text
 */
export function searchTextOf(entry: CatalogEntry): string {
  const lines = [entry.path, entry.name, entry.description ?? '', ...entry.tags.map((t) => `#${t}`)];
  for (const c of entry.schema) lines.push(c.name, c.comment ?? '');
  return lines.filter(Boolean).join('\n').toLowerCase().slice(0, SEARCH_MAX);
}

/** The catalog table. */
export class CatalogStore {
  private readonly ensure: () => Promise<void>;

  /** @param client client of the catalog table (created on first use) */
  constructor(readonly client: TableClient) {
    this.ensure = tableCreation(client);
  }

  /**
   * The entry of a path, with its ETag.
   *
   * @param path path in the lake container
   * @returns the stored entry, or undefined
   */
  async get(path: string): Promise<StoredEntry | undefined> {
    await this.ensure();
    try {
      const e = await this.client.getEntity<Record<string, unknown>>(PARTITION, encodeKey(path));
      return { entry: joinParts(e), etag: String(e.etag) };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * Write an entry: create it when `etag` is null, else replace the row only if it still has that ETag.
   *
   * @param entry the entry
   * @param etag the ETag read, null for a path without a row, undefined to replace whatever is there
   * @returns false when another writer changed the row first
   */
  async put(entry: CatalogEntry, etag?: string | null): Promise<boolean> {
    await this.ensure();
    const text = JSON.stringify(entry);
    const parts: Record<string, string> = {};
    for (let i = 0; i * PART < text.length; i++) parts[`json${i}`] = text.slice(i * PART, (i + 1) * PART);
    const row = {
      partitionKey: PARTITION,
      rowKey: encodeKey(entry.path),
      summary: JSON.stringify(summaryOf(entry)),
      search: searchTextOf(entry),
      parts: Object.keys(parts).length,
      ...parts,
    };
    try {
      if (etag === null) await this.client.createEntity(row);
      else if (etag === undefined) await this.client.upsertEntity(row, 'Replace');
      else await this.client.updateEntity(row, 'Replace', { etag });
      return true;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 409 || code === 412) return false;
      throw err;
    }
  }

  /**
   * Every row's summary and search text (never the schemas).
   *
   * @returns the rows, in path order of their keys
   */
  async list(): Promise<ListedEntry[]> {
    await this.ensure();
    const out: ListedEntry[] = [];
    const rows = this.client.listEntities<{ summary?: string; search?: string }>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'`, select: ['summary', 'search'] },
    });
    for await (const row of rows) {
      if (typeof row.summary !== 'string') continue;
      out.push({ summary: JSON.parse(row.summary) as CatalogSummary, search: row.search ?? '' });
    }
    return out;
  }

  /**
   * Every full entry (the rebuild compares and marks with these).
   *
   * @returns the entries with their ETags
   */
  async entries(): Promise<StoredEntry[]> {
    await this.ensure();
    const out: StoredEntry[] = [];
    for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } })) {
      out.push({ entry: joinParts(e), etag: String(e.etag) });
    }
    return out;
  }

  /**
   * Remove a path's row (tests, and a user clearing a table for good).
   *
   * @param path path in the lake container
   */
  async delete(path: string): Promise<void> {
    await this.ensure();
    try {
      await this.client.deleteEntity(PARTITION, encodeKey(path));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
}

function joinParts(e: Record<string, unknown>): CatalogEntry {
  const n = Number(e.parts ?? 0);
  let text = '';
  for (let i = 0; i < n; i++) text += String(e[`json${i}`] ?? '');
  return JSON.parse(text) as CatalogEntry;
}
