/**
 * `sluice ingest` / `sluice backfill` on local disk and on Azurite: the same stage, the ledger beside a
 * local table or in SluiceLedger for a Blob table, the closing summary and the --json document.
 * Files are read by the real readers of shared/formats.
 */
import { mkdtemp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { runIngestCommand } from '../../cli/ingest';
import { loadSnapshot } from '../../shared/delta';
import { LocalStore } from '../../shared/storage';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { tableRows } from '../support/ingest';

// Usage errors are caught before any table is opened; this location is never created.
const UNUSED_TABLE = nodePath.join(tmpdir(), 'sluice-never-created');

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (t: string) => void (out += t), err: (t: string) => void (err += t) }, out: () => out, err: () => err };
}

describe('sluice ingest / backfill', () => {
  it('ingests a local folder once, with a summary, JSON output and the ledger beside the table', async () => {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-cli-ingest-'));
    await mkdir(nodePath.join(dir, 'in', 'sub'), { recursive: true });
    await writeFile(nodePath.join(dir, 'in', 'a.json'), '{"id":1,"qty":7}\n{"id":2,"qty":8}\n');
    await writeFile(nodePath.join(dir, 'in', 'sub', 'b.json'), '{"id":3,"qty":9,"extra":true}\nnot json\n');
    const table = nodePath.join(dir, 'table');

    const first = capture();
    const code = await runIngestCommand('ingest', nodePath.join(dir, 'in'), { table, 'schema-hints': 'qty:int' }, first.io, { tty: false });
    expect(code, first.err()).toBe(0);
    expect(first.out()).toMatch(/files {6}2 \(2 ingested, 0 already ingested, 0 dead-lettered\)/);
    expect(first.out()).toMatch(/rows {7}4 read, 3 written \(0 with rescued values\), 1 dead-lettered/);
    // The record's full URL, not a path relative to a folder the output does not name.
    expect(first.out()).toMatch(/sub\/b\.json: 1 row\(s\) dead-lettered \(record file:\/\/\/.*\/table\/_sluice\/dead-letter\/\d{4}-\d{2}-\d{2}\/sub\/b\.json@/);
    expect(first.out()).toMatch(/MB\/s\)/);
    expect(first.err()).toBe('');
    const rows = await tableRows(new LocalStore(table));
    expect(rows.map((r) => [r.id, r.qty, r._source_file])).toEqual([
      [1, 7, 'a.json'],
      [2, 8, 'a.json'],
      [3, 9, 'sub/b.json'],
    ]);
    expect((await loadSnapshot(new LocalStore(table))).schema.fields.find((f) => f.name === 'qty')?.type).toBe('integer');
    expect(await readdir(nodePath.join(table, '_sluice'))).toEqual(['dead-letter', 'ledger']);

    const again = capture();
    expect(await runIngestCommand('ingest', nodePath.join(dir, 'in'), { table, json: true }, again.io)).toBe(0);
    const doc = JSON.parse(again.out());
    expect(doc.totals).toMatchObject({ files: 2, committed: 0, duplicate: 2, rowsWritten: 0 });
    expect(doc.files.map((f: { path: string; status: string }) => `${f.path}:${f.status}`).sort()).toEqual(['a.json:duplicate', 'sub/b.json:duplicate']);
    expect(doc.ledger).toBe(new LocalStore(nodePath.join(table, '_sluice', 'ledger')).url);
  });

  it('fails a file on a configuration error, naming the setting and the file, and records nothing for it', async () => {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-cli-config-'));
    await mkdir(nodePath.join(dir, 'in'), { recursive: true });
    await writeFile(nodePath.join(dir, 'in', 'a.csv'), 'sku,qty\n007,1\n');
    const table = nodePath.join(dir, 'table');
    const run = capture();
    expect(await runIngestCommand('ingest', nodePath.join(dir, 'in'), { table, 'partition-by': 'store' }, run.io, { tty: false })).toBe(1);
    expect(run.err()).toMatch(
      /^sluice: a\.csv: ingest: .*\/in\/a\.csv not ingested: setting partitionBy of the source: partition column store of .* not in the columns of the file \(sku, qty, /m,
    );
    expect(run.out()).toMatch(/files {6}1 \(0 ingested, 0 already ingested, 0 dead-lettered, 1 failed\)/);
    // The entry created while the file was read was removed: with the setting fixed, the file goes in.
    expect(await readdir(nodePath.join(table, '_sluice', 'ledger'), { recursive: true }).catch(() => [])).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/\.json$/)]),
    );
    const fixed = capture();
    expect(await runIngestCommand('ingest', nodePath.join(dir, 'in'), { table }, fixed.io, { tty: false }), fixed.err()).toBe(0);
    expect((await tableRows(new LocalStore(table))).map((r) => [r.sku, r.qty])).toEqual([['007', 1]]);
  });

  it('backfills an Azurite landing folder through the SluiceLedger table', async () => {
    const landingContainer = uniqueContainer('cli-in');
    const lake = uniqueContainer('cli-lake');
    const landing = openStore(azuriteUri(landingContainer));
    await landing.write('pos/a.json', '{"id":1}\n{"id":2}\n');
    await landing.write('pos/b.json', '{"id":3}\n');
    await landing.write('other/c.json', '{"id":4}\n');
    const tableUri = azuriteUri(lake, 'bronze/pos');
    const one = capture();
    expect(await runIngestCommand('ingest', azuriteUri(landingContainer, 'pos/a.json'), { table: tableUri, json: true }, one.io), one.err()).toBe(0);
    expect(JSON.parse(one.out())).toMatchObject({
      ledger: expect.stringMatching(/^Azure Table SluiceLedger/),
      files: [{ path: 'pos/a.json', status: 'committed' }],
    });

    const run = capture();
    expect(await runIngestCommand('backfill', azuriteUri(landingContainer, 'pos'), { table: tableUri, json: true }, run.io), run.err()).toBe(0);
    const doc = JSON.parse(run.out());
    expect(doc.backfill).toMatchObject({ listed: 2, done: 1 });
    expect(doc.files).toEqual([expect.objectContaining({ path: 'pos/b.json', status: 'committed', rowsWritten: 1 })]);
    const rows = await tableRows(openStore(tableUri));
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
    // The dead-letter area of a Blob table is the container's _sluice/dead-letter/<table path>/.
    expect(doc.table).toBe(openStore(tableUri).url);
  });

  it('rejects bad command lines with exit status 2', async () => {
    const c = capture();
    expect(await main(['ingest', '.'], c.io)).toBe(2);
    expect(c.err()).toMatch(/'ingest' needs --table <table>/);
    const d = capture();
    expect(await main(['ingest', '.', '--table', UNUSED_TABLE, '--schema-evolution', 'discard_row'], d.io)).toBe(2);
    expect(d.err()).toMatch(/discard_row.*never does/);
    const e = capture();
    expect(await main(['backfill', 'a', 'b', '--table', UNUSED_TABLE], e.io)).toBe(2);
    expect(e.err()).toMatch(/exactly one landing location/);
    const f = capture();
    expect(await main(['ingest', '.', '--table', UNUSED_TABLE, '--schema-hints', 'qty:integr'], f.io)).toBe(2);
    expect(f.err()).toMatch(/--schema-hints: hint "qty:integr"/);
    const g = capture();
    expect(await main(['ingest', '.', '--table', UNUSED_TABLE, '--max-record-mb', '0'], g.io)).toBe(2);
    expect(g.err()).toMatch(/--max-record-mb must be a whole number from 1 to 256; got "0"/);
    const k = capture();
    expect(await main(['ingest', '.', '--table', UNUSED_TABLE, '--csv-engine', 'fast'], k.io)).toBe(2);
    expect(k.err()).toMatch(/--csv-engine: expected one of auto, duckdb, reader, got "fast"/);
    const h = capture();
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/ingest <file-or-dir>/);
    expect(h.out()).toMatch(/backfill <landing>/);
    expect(h.out()).toMatch(/--max-record-mb N/);
    expect(h.out()).toMatch(/--csv-engine E/);
  });

  it('checks SLUICE_MAX_RECORD_MB by the rule the app applies at start-up', async () => {
    const c = capture();
    await expect(runIngestCommand('ingest', '.', { table: UNUSED_TABLE }, c.io, { env: { SLUICE_MAX_RECORD_MB: 'lots' } })).rejects.toThrow(
      /SLUICE_MAX_RECORD_MB must be a whole number from 1 to 256; got "lots"/,
    );
  });
});
