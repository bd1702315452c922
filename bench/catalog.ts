/**
 * Catalog (bench section `catalog`): on Azurite, how long the catalog answers with TABLES (default
 * 1,000, BENCH_CATALOG_TABLES) tables, and what recording a commit costs.
 *
 * - list: `GET /api/catalog/tables` as its handler computes it (`listTablesResponse`: one query of the
 *   catalog table reading only the summary and search columns, filtering, sorting) plus the JSON the
 *   route sends; search with a column name, filter by tag; show one table (`showTableResponse`).
 *   Fastest and median of REPEAT (7) calls each.
 * - record: `recordTable` after a commit to a real Delta table of 50 versions (snapshot, the one new
 *   commit read for the schema history, one listing for bytes by tier, one read and one conditional
 *   write of the row): the time a commit path spends on the catalog. Median of REPEAT commits.
 *
 * The entries are shaped like the POS tables' (20 columns with comments, a schema history, tags,
 * owner, PII classification), written straight to the catalog table: what is measured is the
 * catalog's reading, not how the entries were made.
 */
import { CatalogStore, Catalog, listTablesResponse, showTableResponse, type CatalogEntry } from '../shared/catalog';
import { createTable, writeTable } from '../shared/delta';
import { openStore } from '../shared/storage/location';
import { connectionStringTables } from '../shared/storage/lake';
import { startAzurite } from '../dev/azurite';
import { writerBatch, WRITER_SCHEMA } from './writers';

const REPEAT = 7;
const COLUMNS = 20;
const HISTORY_VERSIONS = 50;

/** What the catalog bench measured (milliseconds). */
export interface CatalogBenchResult {
  tables: number;
  /** Bytes of the listing's JSON answer. */
  listBytes: number;
  listMsFastest: number;
  listMsMedian: number;
  searchMsFastest: number;
  searchMsMedian: number;
  /** Tables the search found (1 in 10 carries the searched column). */
  searchHits: number;
  tagMsFastest: number;
  tagMsMedian: number;
  showMsFastest: number;
  showMsMedian: number;
  /** `recordTable` after one commit, table of HISTORY_VERSIONS versions. */
  recordMsMedian: number;
  recordMsFastest: number;
  writeSeconds: number;
  error?: string;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function syntheticEntry(i: number, container: string): CatalogEntry {
  const layer = ['bronze', 'silver', 'gold'][i % 3];
  const path = `${layer}/domain_${Math.floor(i / 30)}/table_${i}`;
  const schema = Array.from({ length: COLUMNS }, (_, c) => ({
    name: c === 0 && i % 10 === 0 ? 'card_number' : `column_${c}`,
    type: c % 3 === 0 ? 'string' : c % 3 === 1 ? 'long' : 'decimal(12,2)',
    nullable: true,
    partition: c === COLUMNS - 1,
    comment: `What column ${c} of table ${i} holds, in a sentence of ordinary length`,
    classification: c === 0 && i % 10 === 0 ? { pii: 'mask' as const, treatment: 'masked before storage: every character but the last four becomes *' } : null,
  }));
  return {
    path,
    status: 'live',
    reason: null,
    layer,
    name: `${layer}.table_${i}`,
    pipeline: `pipeline_${i % 7}`,
    location: `http://127.0.0.1:10000/devstoreaccount1/${container}/${path}`,
    format: 'delta',
    protocol: { minReaderVersion: 1, minWriterVersion: 2 },
    tableId: `id-${i}`,
    version: 100 + i,
    lastCommit: new Date(1_780_000_000_000 + i * 1000).toISOString(),
    lastOperation: 'WRITE',
    schema,
    schemaHistory: schema.map((c, v) => ({
      version: v < COLUMNS - 2 ? 0 : v,
      column: c.name,
      change: 'added' as const,
      type: c.type,
      nullable: true,
      exact: true,
    })),
    partitionColumns: [schema[COLUMNS - 1].name],
    rows: 1_000 * i,
    files: 10 + (i % 50),
    bytes: 1_000_000 * (1 + (i % 20)),
    bytesByTier: { Hot: 1_000_000 * (1 + (i % 20)) },
    description: `Table ${i} of domain ${Math.floor(i / 30)}: what it holds, for people`,
    owner: i % 5 === 0 ? 'Retail Analytics' : `team-${i % 13}@contoso.com`,
    tags: i % 4 === 0 ? ['finance', 'kpi'] : ['ops'],
    classification: schema.filter((c) => c.classification).map((c) => ({ column: c.name, ...c.classification! })),
    missingSince: null,
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    await fn();
    out.push(performance.now() - started);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Run the catalog bench on an Azurite of its own.
 *
 * @param root repository root (Azurite from its node_modules)
 * @param tables how many tables the catalog holds
 * @returns the figures
 */
export async function runCatalogBench(root: string, tables: number): Promise<CatalogBenchResult> {
  const azurite = await startAzurite(root);
  try {
    const container = `bench-catalog-${Date.now()}`;
    const lake = (path: string) => openStore(`${azurite.blobEndpoint}/${container}${path ? `/${path}` : ''}`);
    const store = new CatalogStore(connectionStringTables(azurite.connectionString)(`BenchCatalog${Date.now()}`));
    const catalog = new Catalog({ store, lake, pipelines: () => [] });
    const writeStarted = performance.now();
    const entries = Array.from({ length: tables }, (_, i) => syntheticEntry(i, container));
    for (let i = 0; i < entries.length; i += 32) await Promise.all(entries.slice(i, i + 32).map((e) => store.put(e)));
    const writeSeconds = round((performance.now() - writeStarted) / 1000);

    let listBytes = 0;
    const list = await timed(async () => {
      const answer = await listTablesResponse(catalog, new URLSearchParams());
      listBytes = JSON.stringify(answer.body).length;
      if ((answer.body as { tables: unknown[] }).tables.length !== tables) throw new Error('the listing lost tables');
    });
    let searchHits = 0;
    const search = await timed(async () => {
      const answer = await listTablesResponse(catalog, new URLSearchParams({ q: 'card_number' }));
      searchHits = (answer.body as { tables: unknown[] }).tables.length;
    });
    const tag = await timed(() => listTablesResponse(catalog, new URLSearchParams({ tag: 'kpi', layer: 'gold' })));
    const show = await timed(async () => {
      const answer = await showTableResponse(catalog, entries[Math.floor(tables / 2)].path);
      if (answer.status !== 200) throw new Error(`show answered ${answer.status}`);
    });

    // The commit path: a real table of HISTORY_VERSIONS versions, recorded after each further commit.
    const table = lake('bronze/recorded');
    await createTable(table, { schema: WRITER_SCHEMA });
    for (let v = 1; v < HISTORY_VERSIONS; v++) await writeTable(table, [writerBatch(0, v, 100)], { mode: 'append' });
    await catalog.recordTable('bronze/recorded');
    const record: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      await writeTable(table, [writerBatch(1, i, 100)], { mode: 'append' });
      const started = performance.now();
      await catalog.recordTable('bronze/recorded');
      record.push(performance.now() - started);
    }
    record.sort((a, b) => a - b);
    const median = (xs: number[]) => round(xs[Math.floor(xs.length / 2)]);
    return {
      tables,
      listBytes,
      listMsFastest: round(list[0]),
      listMsMedian: median(list),
      searchMsFastest: round(search[0]),
      searchMsMedian: median(search),
      searchHits,
      tagMsFastest: round(tag[0]),
      tagMsMedian: median(tag),
      showMsFastest: round(show[0]),
      showMsMedian: median(show),
      recordMsFastest: round(record[0]),
      recordMsMedian: median(record),
      writeSeconds,
    };
  } catch (err) {
    return { tables, error: (err as Error).stack ?? String(err) } as CatalogBenchResult;
  } finally {
    await azurite.stop();
  }
}

/**
 * Print the catalog figures.
 *
 * @param r the result
 * @param printTable the bench's table printer
 */
export function printCatalogResults(r: CatalogBenchResult, printTable: (title: string, header: string[], rows: (string | number)[][]) => void): void {
  if (r.error) {
    console.log(`catalog FAILED: ${r.error}`);
    return;
  }
  printTable(
    `Catalog on Azurite with ${r.tables} tables (${REPEAT} calls each; list answer ${r.listBytes} bytes of JSON)`,
    ['call', 'fastest ms', 'median ms'],
    [
      ['list (GET /api/catalog/tables)', r.listMsFastest, r.listMsMedian],
      [`search q=card_number (${r.searchHits} hits)`, r.searchMsFastest, r.searchMsMedian],
      ['filter tag=kpi&layer=gold', r.tagMsFastest, r.tagMsMedian],
      ['show one table', r.showMsFastest, r.showMsMedian],
      [`recordTable after a commit (${HISTORY_VERSIONS}+ versions)`, r.recordMsFastest, r.recordMsMedian],
    ],
  );
}
