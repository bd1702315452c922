/**
 * Dead-letter replay (`sluice deadletter replay <id>`): ingest again, with the source's current
 * definition (a fixed format, encoding, schema evolution mode …), what a file's dead-letter record set
 * aside — through `ingestFile`, so the same exactly-once machinery applies.
 *
 * What is read: the landing file the record names, at the record's ETag (a blob that changed since is
 * refused: its new version has its own ingestion). When nothing of the file landed (`rowsWritten` 0:
 * the whole file was set aside), every record of it; otherwise only the records at the positions the
 * record lists (their 1-based `row`), since the others are in the table already. Positions are counted
 * by reading the file twice with the current definition: once to learn which records it still cannot
 * read, once to ingest, mapping each row it emits back to its record number.
 *
 * Exactly once: the replay is ingested under its own ledger key, `<table key>#replay:<id>`, which also
 * names its lane intent, so a second replay of the same record is a `duplicate` and adds nothing, and a
 * replay that died half-way is completed as any ingestion is. Accounting: rows read (the records
 * replayed) = rows written + rows dead-lettered again; those go to a new record under
 * `<table>/replays/`, leaving the original as it was.
 *
 * Event Hubs records are not replayed here: their events are past the table's sequence `txn`.
 */
import type { RecordBatch } from 'apache-arrow';
import type { LaneOptions } from '../delta';
import type { BadRecord, ReadResult } from '../formats/types';
import type { ObjectStore } from '../storage/types';
import { readDeadLetter, REPLAY_FOLDER } from './deadletter-records';
import { ingestFile } from './ingest';
import type { DeadLetterRecord, DeadLetterTarget, IngestLedger, IngestOutcome, IngestSource } from './types';
import { formatsReader, ReadInput } from './reader';
import { readObjectRanges } from './stream';

/** Everything a replay needs: the record, the landing container, the source's table and settings now. */
export interface DeadLetterReplayOptions {
  /** Store rooted at the dead-letter folder. */
  folder: ObjectStore;
  id: string;
  /** Store rooted at the landing container. */
  landing: ObjectStore;
  /** The bronze table, its ledger key (the record's `table`), the source's current settings. */
  table: ObjectStore;
  tableKey: string;
  source: IngestSource;
  deadLetter: DeadLetterTarget;
  ledger: IngestLedger;
  lane?: LaneOptions;
  /** Reader (default: shared/formats). */
  reader?: ReadInput;
  /** Called once the replayed rows are in a table version (e.g. to update the catalog); must not throw. */
  onCommitted?: (version: number) => Promise<void>;
}

/** What a replay did: the ingest outcome of the records replayed, and which records those were. */
export interface DeadLetterReplayResult extends IngestOutcome {
  id: string;
  /** `all` when the whole file was set aside; otherwise how many records the replay looked for. */
  replayed: 'all' | number;
}

/** The record cannot be replayed (an Event Hubs record, bad records without positions, a changed blob). */
export class DeadLetterReplayError extends Error {
  override name = 'DeadLetterReplayError';
}

/**
 * Replay a file's dead-letter record.
 *
 * @param options record id, stores, the source's current settings, ledger
 * @returns the outcome (`duplicate` when this record was replayed before)
 * @throws DeadLetterReplayError when the record cannot be replayed; IngestConfigError when the definition still refuses the file
 */
export async function replayDeadLetter(options: DeadLetterReplayOptions): Promise<DeadLetterReplayResult> {
  const record = await readDeadLetter(options.folder, options.id);
  const where = `dead-letter record ${options.id}`;
  if ((record.source as { eventHub?: unknown }).eventHub)
    throw new DeadLetterReplayError(`${where} holds Event Hubs events; only records of landing files can be replayed`);
  if (record.table !== options.tableKey) throw new DeadLetterReplayError(`${where} belongs to ${record.table}, not ${options.tableKey}`);
  const reader = options.reader ?? formatsReader();
  const whole = record.counts.rowsWritten === 0;
  const outcome = await ingestFile({
    landing: options.landing,
    path: record.source.path,
    etag: record.source.etag,
    table: options.table,
    tableKey: `${options.tableKey}#replay:${options.id}`,
    source: options.source,
    ledger: options.ledger,
    deadLetter: { store: options.deadLetter.store, prefix: `${options.deadLetter.prefix}${REPLAY_FOLDER}/` },
    ...(options.lane ? { lane: options.lane } : {}),
    ...(options.onCommitted ? { onCommitted: options.onCommitted } : {}),
    reader: whole ? reader : onlyRecords(reader, wantedRows(record, where), options.landing, record.source),
  });
  if (outcome.status === 'superseded' || outcome.status === 'missing') {
    throw new DeadLetterReplayError(
      `${where}: ${record.source.path} ${outcome.status === 'missing' ? 'no longer exists' : `changed since (${outcome.reason}); its new version is ingested on its own`} in ${options.landing.url}`,
    );
  }
  return { ...outcome, id: options.id, replayed: whole ? 'all' : record.records.length };
}

function wantedRows(record: DeadLetterRecord, where: string): Set<number> {
  const rows = new Set<number>();
  for (const r of record.records) {
    if (r.row === undefined)
      throw new DeadLetterReplayError(
        `${where}: a bad record (${r.reason}) has no row number, so the part of the file it covers cannot be found again; only whole files, or records with row numbers, can be replayed`,
      );
    rows.add(r.row);
  }
  return rows;
}

/**
 * A reader that emits only the records at the given (1-based) positions of the file, and reports
 * only those: rows read = their number, bad records = those of them it still cannot read.
 */
function onlyRecords(reader: ReadInput, wanted: Set<number>, landing: ObjectStore, file: DeadLetterRecord['source']): ReadInput {
  return async (input, name, options) => {
    // First pass: which records the current definition still cannot read (they emit no row).
    const probe = await reader(readObjectRanges(landing, file.path, file.size, { etag: file.etag }), name, options);
    for await (const batch of probe.batches) void batch;
    const unreadable = new Set(probe.badRecords.map((r) => r.row));
    const result = await reader(input, name, options);
    let record = 0;
    let kept = 0;
    const nextReadable = () => {
      do record++;
      while (unreadable.has(record));
      return record;
    };
    async function* batches(): AsyncGenerator<RecordBatch> {
      for await (const batch of result.batches) {
        // Runs of consecutive wanted rows, as slices of the batch.
        let start = -1;
        for (let i = 0; i <= batch.numRows; i++) {
          const keep = i < batch.numRows && wanted.has(nextReadable());
          if (keep && start < 0) start = i;
          if (!keep && start >= 0) {
            kept += i - start;
            yield batch.slice(start, i);
            start = -1;
          }
        }
      }
    }
    const wantedBad = (): BadRecord[] => result.badRecords.filter((r) => r.row !== undefined && wanted.has(r.row));
    const replay: ReadResult = {
      ...result,
      batches: batches(),
      get badRecords() {
        return wantedBad();
      },
      get stats() {
        return { ...result.stats, rowsRead: kept + wantedBad().length, rowsEmitted: kept };
      },
      // Set while the batches are read (damage found late), so read through.
      get fatal() {
        return result.fatal;
      },
    };
    return replay;
  };
}
