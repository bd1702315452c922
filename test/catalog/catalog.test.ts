/**
 * The catalog on Azurite, kept by the commits themselves: the POS example ingested by the ingest stage
 * and refreshed by the `refresh` orchestration, each commit recording its table through the callbacks
 * the host hands down. Every table is listed with the version, rows and schema the table itself has
 * (counted independently, by reading it); a column added by schema evolution shows in the history at
 * the version that added it; search finds tables by column name, comment and tag; a rebuild from a scan
 * of the lake container gives the same entries; a folder of files without a Delta log and a table of a
 * refused protocol are listed with their reason; a table that disappeared is marked, not kept alive.
 * The maintenance timer's optimize commit is recorded too. The FIRE example's tables likewise.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Catalog, CatalogStore, rebuildCatalog, type CatalogEntry } from '../../shared/catalog';
import { InvocationContext } from '@azure/functions';
import { formatDeltaType, loadSnapshot } from '../../shared/delta';
import type { MaintenanceReport } from '../../shared/maintenance';
import { tableActivity as maintenanceTableActivity } from '../../shared/maintenance/orchestrator';
import { ingestFile, TableLedger } from '../../shared/ingest';
import { ingestSourceOf } from '../../shared/host';
import { EngineRunClient, orchestrationRegistry, type RefreshOutput } from '../../shared/run';
import { LocalStore, openStore } from '../../shared/storage';
import { connectionStringTables } from '../../shared/storage/lake';
import { azuriteUri } from '../support/azurite';
import { connectionString, EXAMPLES_DATA, exampleLake, posLake, ROOT, runEngine, sortedRows, uniqueName, type RunLake } from '../support/run-lake';

const POS_PATHS = [
  'bronze/pos_deliveries',
  'bronze/pos_sales',
  'gold/daily_store_sales',
  'gold/store_stock',
  'silver/deliveries',
  'silver/deliveries__quarantine',
  'silver/sales',
  'silver/sales__quarantine',
];

function newCatalog(run: RunLake): Catalog {
  return new Catalog({
    store: new CatalogStore(connectionStringTables(connectionString())(uniqueName('Catalog'))),
    lake: run.lake,
    pipelines: () => [run.definition],
  });
}

/** Full entries by path, for comparing two catalogs. */
async function entriesByPath(catalog: Catalog): Promise<Record<string, CatalogEntry>> {
  const out: Record<string, CatalogEntry> = {};
  for (const { entry } of await catalog.store.entries()) out[entry.path] = entry;
  return out;
}

describe('catalog kept by commits (POS example on Azurite)', () => {
  let run: RunLake;
  let catalog: Catalog;
  let evolvedVersion: number;
  const warnings: string[] = [];
  const started = Date.now();

  async function ingest(source: string, landing: LocalStore, path: string, ledger: TableLedger) {
    const def = run.definition.sources[source];
    return ingestFile({
      landing,
      path,
      table: run.lake(def.table),
      source: ingestSourceOf(def),
      ledger,
      deadLetter: { store: run.lake('_sluice/dead-letter'), prefix: `${def.table}/` },
      onCommitted: catalog.afterCommit(def.table, (line) => warnings.push(line)),
    });
  }

  async function refresh(): Promise<RefreshOutput> {
    const engine = runEngine(orchestrationRegistry(run.services));
    const started = await new EngineRunClient(engine).startRun({ pipeline: 'pos', reason: 'test' });
    await engine.runPending();
    const status = (await engine.getStatus(started.instanceId))!;
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    return status.output as RefreshOutput;
  }

  beforeAll(async () => {
    run = await posLake('catalog');
    catalog = newCatalog(run);
    run.services.catalog = catalog;
    const examples = new LocalStore(EXAMPLES_DATA);
    const ledger = TableLedger.fromConnectionString(connectionString(), uniqueName('Ledger'));
    expect((await ingest('pos_sales', examples, 'pos/sales-2026-03-01.csv', ledger)).status).toBe('committed');
    expect((await ingest('pos_deliveries', examples, 'pos/deliveries-2026-03-01.csv', ledger)).status).toBe('committed');
    await refresh();
    expect((await ingest('pos_sales', examples, 'pos/sales-2026-03-02.csv', ledger)).status).toBe('committed');
    // A third day whose file has a column the table has not seen: schema evolution adds it.
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-catalog-'));
    mkdirSync(nodePath.join(dir, 'pos'));
    writeFileSync(
      nodePath.join(dir, 'pos', 'sales-2026-03-03.csv'),
      'transaction_id,store_id,sku,quantity,unit_price,currency,event_time,status,card_number,loyalty_id\n' +
        'T-3001,S02,SKU-RED-M,1,19.99,EUR,2026-03-03 08:00:00,,4000056655665556,L-77\n',
    );
    const evolved = await ingest('pos_sales', new LocalStore(dir), 'pos/sales-2026-03-03.csv', ledger);
    expect(evolved).toMatchObject({ status: 'committed', newColumns: ['loyalty_id'] });
    evolvedVersion = evolved.version!;
    await refresh();
  }, 180_000);

  it('lists every table with the version, rows and schema the table has', async () => {
    expect(warnings).toEqual([]);
    const listed = await catalog.list();
    expect(listed.map((t) => t.path)).toEqual(POS_PATHS);
    for (const summary of listed) {
      const snapshot = await loadSnapshot(run.lake(summary.path));
      const rows = (await sortedRows(run.lake, summary.path)).length;
      expect({ path: summary.path, status: summary.status, version: summary.version, rows: summary.rows }).toEqual({
        path: summary.path,
        status: 'live',
        version: snapshot.version,
        rows,
      });
      const entry = (await catalog.get(summary.path))!;
      expect(entry.schema.map((c) => c.name)).toEqual(snapshot.schema.fields.map((f) => f.name));
      expect(entry.partitionColumns).toEqual(snapshot.partitionColumns);
      expect(entry.files).toBe(snapshot.state.files.size);
      expect(entry.format).toBe('delta');
      expect(entry.location).toBe(run.lake(summary.path).url);
      expect(Date.parse(entry.lastCommit!)).toBeGreaterThanOrEqual(started - 1000);
      expect(Date.parse(entry.lastCommit!)).toBeLessThanOrEqual(Date.now());
      // Azurite reports tiers in listings: every live byte is counted under one.
      expect(Object.values(entry.bytesByTier ?? {}).reduce((n, b) => n + b, 0)).toBe(entry.bytes);
    }
    // The POS walkthrough's counts (examples/data/pos/README.md), plus the third day's sale.
    const byPath = Object.fromEntries(listed.map((t) => [t.path, t]));
    expect(byPath['silver/sales'].rows).toBe(11);
    expect(byPath['silver/sales__quarantine'].rows).toBe(2);
    expect(byPath['bronze/pos_sales'].version).toBe(evolvedVersion);
  });

  it('carries the definition: layer, name, pipeline, description, owner, tags, comments and PII classification', async () => {
    const sales = (await catalog.get('silver/sales'))!;
    expect(sales).toMatchObject({
      layer: 'silver',
      name: 'silver.sales',
      pipeline: 'pos',
      owner: 'retail-data@contoso.com',
      tags: ['pos', 'finance'],
      description: expect.stringMatching(/One row per sale/),
      classification: [{ column: 'card_number', pii: 'mask', treatment: expect.stringMatching(/last four/) }],
    });
    expect(sales.schema.find((c) => c.name === 'card_number')).toMatchObject({ comment: expect.stringMatching(/masked/), classification: { pii: 'mask' } });
    const bronze = (await catalog.get('bronze/pos_sales'))!;
    expect(bronze).toMatchObject({ layer: 'bronze', name: 'pos_sales', tags: ['pos', 'raw', 'pii'] });
    expect(bronze.classification).toEqual([{ column: 'card_number', pii: 'none', treatment: 'stored as received; silver/sales masks it' }]);
    expect(bronze.schema.find((c) => c.name === '_load_date')?.partition).toBe(true);
    const quarantine = (await catalog.get('silver/sales__quarantine'))!;
    expect(quarantine).toMatchObject({
      name: 'silver.sales__quarantine',
      owner: 'retail-data@contoso.com',
      classification: [{ column: 'card_number', pii: 'mask' }],
    });
    expect((await catalog.get('gold/store_stock'))!).toMatchObject({ owner: null, tags: [], description: null });
  });

  it('shows a column added by schema evolution in the history at the version that added it', async () => {
    const bronze = (await catalog.get('bronze/pos_sales'))!;
    const added = bronze.schemaHistory.filter((c) => c.change === 'added');
    expect(added.find((c) => c.column === 'loyalty_id')).toEqual({
      version: evolvedVersion,
      column: 'loyalty_id',
      change: 'added',
      type: 'string',
      nullable: true,
      exact: true,
    });
    expect(evolvedVersion).toBeGreaterThan(0);
    // Every other column came with the table, at version 0.
    expect(added.filter((c) => c.column !== 'loyalty_id').every((c) => c.version === 0)).toBe(true);
    expect(added.map((c) => c.column).sort()).toEqual(bronze.schema.map((c) => c.name).sort());
    expect(bronze.schema.find((c) => c.name === 'loyalty_id')).toMatchObject({ type: 'string', nullable: true });
  });

  it('searches column names, comments and tags, and filters by layer, tag and owner', async () => {
    const paths = async (filter: Parameters<Catalog['list']>[0]) => (await catalog.list(filter)).map((t) => t.path);
    expect(await paths({ q: 'card_number' })).toEqual(['bronze/pos_sales', 'silver/sales', 'silver/sales__quarantine']);
    expect(await paths({ q: 'loyalty_id' })).toEqual(['bronze/pos_sales']);
    expect(await paths({ q: 'UNIQUE per sale' })).toEqual(['silver/sales', 'silver/sales__quarantine']);
    expect(await paths({ q: 'kpi' })).toEqual(['gold/daily_store_sales']);
    expect(await paths({ tag: 'finance' })).toEqual(['gold/daily_store_sales', 'silver/sales', 'silver/sales__quarantine']);
    expect(await paths({ tag: 'FINANCE', layer: 'gold' })).toEqual(['gold/daily_store_sales']);
    expect(await paths({ owner: 'retail analytics' })).toEqual(['gold/daily_store_sales']);
    expect(await paths({ layer: 'bronze' })).toEqual(['bronze/pos_deliveries', 'bronze/pos_sales']);
    expect(await paths({ q: 'no-such-word' })).toEqual([]);
  });

  it('rebuilds from the lake the same entries the commits kept', async () => {
    const kept = await entriesByPath(catalog);
    const fresh = newCatalog(run);
    const result = await rebuildCatalog(fresh, openStore(azuriteUri(run.container)));
    expect(result).toMatchObject({ tables: 8, notDelta: 0, refused: 0, missing: 0 });
    expect(await entriesByPath(fresh)).toEqual(kept);
    // Rebuilding over the kept catalog changes nothing either.
    await rebuildCatalog(catalog, openStore(azuriteUri(run.container)));
    expect(await entriesByPath(catalog)).toEqual(kept);
    // A commit recorded while a rebuild ran (a newer version of the same table) is not overwritten by it;
    // nor does an older version's recording replace a newer one.
    const newer = { ...kept['silver/sales'], version: kept['silver/sales'].version! + 5 };
    await catalog.store.put(newer);
    await rebuildCatalog(catalog, openStore(azuriteUri(run.container)));
    expect((await catalog.get('silver/sales'))?.version).toBe(newer.version);
    expect((await catalog.recordTable('silver/sales')).version).toBe(newer.version);
    await catalog.store.put(kept['silver/sales']);
  });

  it('lists a folder without a Delta log and a refused protocol with their reasons, and marks a table that disappeared', async () => {
    const container = openStore(azuriteUri(run.container));
    await container.write('exports/2026/march.csv', 'a,b\n1,2\n');
    await container.write('exports/2026/april.csv', 'a,b\n3,4\n');
    await container.write(
      'partner/ledger/_delta_log/00000000000000000000.json',
      [
        { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['futureFeature'], writerFeatures: ['futureFeature'] } },
        {
          metaData: {
            id: 'a1b2',
            format: { provider: 'parquet', options: {} },
            schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] }),
            partitionColumns: [],
            configuration: {},
            createdTime: 1,
          },
        },
        { commitInfo: { timestamp: 1_700_000_000_000, operation: 'CREATE TABLE' } },
      ]
        .map((a) => JSON.stringify(a))
        .join('\n'),
    );
    for await (const info of container.list('gold/store_stock/')) await container.delete(info.path);

    // The commit path finds the table gone too, and marks it rather than dropping it.
    const marked = await catalog.recordTable('gold/store_stock');
    expect(marked).toMatchObject({ status: 'missing', reason: 'no Delta log at gold/store_stock' });
    expect(marked.missingSince).not.toBeNull();

    const result = await rebuildCatalog(catalog, container);
    expect(result).toMatchObject({ tables: 7, notDelta: 1, refused: 1, missing: 1 });
    const exports = (await catalog.get('exports/2026'))!;
    expect(exports).toMatchObject({ status: 'notDelta', layer: 'exports', files: 2, version: null });
    expect(exports.reason).toMatch(/^not a Delta table: no _delta_log; 2 files \(\d+ bytes\), e\.g\. exports\/2026\/april\.csv$/);
    const partner = (await catalog.get('partner/ledger'))!;
    expect(partner).toMatchObject({ status: 'refused', version: 0, tableId: 'a1b2', lastCommit: new Date(1_700_000_000_000).toISOString() });
    expect(partner.reason).toMatch(/futureFeature/);
    expect(partner.reason).not.toContain('http');
    expect(partner.schema.map((c) => c.name)).toEqual(['id']);
    const gone = (await catalog.get('gold/store_stock'))!;
    expect(gone).toMatchObject({ status: 'missing', missingSince: marked.missingSince });
    const listed = await catalog.list();
    expect(listed.find((t) => t.path === 'gold/store_stock')).toMatchObject({ status: 'missing' });
    expect(listed.filter((t) => t.status === 'live')).toHaveLength(7);
  });

  it("records the maintenance timer's optimize commit", async () => {
    const before = (await catalog.get('bronze/pos_sales'))!;
    expect(before.files).toBeGreaterThan(1);
    const activity = maintenanceTableActivity(() => ({
      pipelines: () => [run.definition],
      lake: run.lake,
      options: { minFilesPerPartition: 2 },
      events: connectionStringTables(connectionString())(run.eventsTable),
      eventsRetentionDays: 30,
      catalog,
    }));
    const report = (await activity(
      { pipeline: 'pos', name: 'pos_sales', path: 'bronze/pos_sales' },
      new InvocationContext({ functionName: 'maintainTable' }),
    )) as MaintenanceReport;
    expect(report.versionAfter).toBeGreaterThan(report.versionBefore!);
    const after = (await catalog.get('bronze/pos_sales'))!;
    expect(after).toMatchObject({ version: report.versionAfter, files: 1, rows: before.rows, lastOperation: 'OPTIMIZE' });
    expect(after.schemaHistory).toEqual(before.schemaHistory);
    // A tier change commits nothing: only a full recording sees it.
    const live = (await loadSnapshot(run.lake('bronze/pos_sales'))).state.files.keys().next().value as string;
    await run.lake('bronze/pos_sales').setAccessTier(decodeURIComponent(live), 'Cool');
    expect((await catalog.recordTable('bronze/pos_sales')).bytesByTier).toEqual({ Hot: after.bytes });
    expect((await catalog.recordTable('bronze/pos_sales', { full: true })).bytesByTier).toEqual({ Cool: after.bytes });
  });
});

describe('catalog kept by commits (FIRE example on Azurite)', () => {
  it('lists the FIRE tables with the versions, rows and schema the tables have, and rebuilds the same', async () => {
    const run = await exampleLake('catalog-fire', nodePath.join(ROOT, 'examples', 'pipelines', 'fire.yaml'));
    const catalog = newCatalog(run);
    run.services.catalog = catalog;
    const warnings: string[] = [];
    const source = run.definition.sources.collateral;
    const outcome = await ingestFile({
      landing: new LocalStore(EXAMPLES_DATA),
      path: 'fire/collateral-2026-03-31.csv',
      table: run.lake(source.table),
      source: ingestSourceOf(source),
      ledger: TableLedger.fromConnectionString(connectionString(), uniqueName('Ledger')),
      deadLetter: { store: run.lake('_sluice/dead-letter'), prefix: `${source.table}/` },
      onCommitted: catalog.afterCommit(source.table, (line) => warnings.push(line)),
    });
    expect(outcome.status).toBe('committed');
    const engine = runEngine(orchestrationRegistry(run.services));
    const started = await new EngineRunClient(engine).startRun({ pipeline: 'fire', reason: 'test' });
    await engine.runPending();
    expect((await engine.getStatus(started.instanceId))?.runtimeStatus).toBe('Completed');
    expect(warnings).toEqual([]);
    const listed = await catalog.list();
    const expected = [source.table, ...Object.values(run.definition.tables).map((t) => t.table)];
    // Every table of the definition, and the quarantine tables the run wrote.
    expect(listed.map((t) => t.path).filter((p) => !p.endsWith('__quarantine'))).toEqual([...expected].sort());
    for (const t of listed) {
      const snapshot = await loadSnapshot(run.lake(t.path));
      expect({ path: t.path, version: t.version, rows: t.rows, pipeline: t.pipeline }).toEqual({
        path: t.path,
        version: snapshot.version,
        rows: (await sortedRows(run.lake, t.path)).length,
        pipeline: 'fire',
      });
      expect((await catalog.get(t.path))!.schema.map((c) => c.type)).toEqual(snapshot.schema.fields.map((f) => formatDeltaType(f.type)));
    }
    const fresh = newCatalog(run);
    await rebuildCatalog(fresh, openStore(azuriteUri(run.container)));
    expect(await entriesByPath(fresh)).toEqual(await entriesByPath(catalog));
  });
});
