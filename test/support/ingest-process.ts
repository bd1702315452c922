/**
 * One ingestion (or backfill) in its own process, with the real readers of shared/formats: the crash
 * points (`SLUICE_FAULT_KILL_AT`) and truly concurrent ingestions through the commit lane need separate
 * processes. Started by `startIngestProcess` (test/support/ingest.ts); imports nothing from vitest.
 *
 *   node --import tsx test/support/ingest-process.ts '<spec json>'
 *
 * spec: { landing, table, deadLetter: location URIs; deadLetterPrefix; path (blob path in landing);
 *         etag?; source? (IngestSource); backfillPrefix? (run backfill instead); waitGo? }
 * The ledger is the Azure Table `SluiceLedger` reached with SLUICE_STORAGE_CONNECTION_STRING (the
 * test Azurite; children inherit it). Prints {"ready":true} (with waitGo) and waits for a line on
 * stdin, then one JSON line with the outcome; errors go to stderr with exit code 1.
 */
import { backfill, ingestFile, IngestSource, TableLedger } from '../../shared/ingest';
import { openStore } from '../../shared/storage/location';

interface Spec {
  landing: string;
  table: string;
  deadLetter: string;
  deadLetterPrefix: string;
  path?: string;
  etag?: string;
  source?: IngestSource;
  backfillPrefix?: string;
  waitGo?: boolean;
}

function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      buffered += chunk;
      if (buffered.includes('\n')) {
        process.stdin.pause();
        resolve();
      }
    });
    process.stdin.once('end', () => reject(new Error('ingest-process: stdin closed before "go"')));
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as Spec;
  const connection = process.env.SLUICE_STORAGE_CONNECTION_STRING;
  if (!connection) throw new Error('ingest-process: SLUICE_STORAGE_CONNECTION_STRING is not set');
  const common = {
    landing: openStore(spec.landing),
    table: openStore(spec.table),
    ledger: TableLedger.fromConnectionString(connection),
    deadLetter: { store: openStore(spec.deadLetter), prefix: spec.deadLetterPrefix },
    source: spec.source,
  };
  if (spec.waitGo) {
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    await waitForGo();
  }
  if (spec.backfillPrefix !== undefined) {
    const result = await backfill({ ...common, prefix: spec.backfillPrefix, inProgressGraceMs: 0 });
    process.stdout.write(`${JSON.stringify({ backfill: { ...result, failures: result.failures.map((f) => ({ path: f.path, error: f.error.message })) } })}\n`);
    return;
  }
  const outcome = await ingestFile({ ...common, path: spec.path!, ...(spec.etag ? { etag: spec.etag } : {}) });
  process.stdout.write(`${JSON.stringify({ outcome })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`ingest-process: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
