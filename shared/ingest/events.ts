/**
 * The bronze ingest stage for Event Hubs: one batch of events of one partition (as the Functions Event
 * Hubs trigger delivers it) into its bronze Delta table, each (partition, sequence number) exactly
 * once, with the `_eh_*` metadata columns (event-rows.ts), schema evolution, rescued data and
 * dead-lettering.
 *
 * Exactly once. The table keeps a Delta `txn` per partition (`hubAppId`) whose version is the highest
 * sequence number applied. A round of `ingestEvents`:
 *
 * 1. loads the table and drops every event at or below that version (`eventsSkipped`), so a batch
 *    delivered again, with the same or other boundaries, adds only what is new;
 * 2. writes the rows of the remaining events as data files, and the dead-letter record of what could
 *    not be ingested (before the commit, so a crash after the commit loses nothing);
 * 3. submits one lane intent with `txn = (appId, highest sequence number)`. Its id is derived from
 *    (table, appId, applied version read in step 1), so all writers that read the same applied
 *    version — two deliveries racing after a rebalance, a retry next to a crashed attempt's pending
 *    intent — share it, and the lane commits at most one intent per id. By induction, every commit of
 *    the partition's txn was written against the txn version it replaces: a writer whose base went
 *    stale finds its id already carried by another attempt's commit (or its txn already covered, the
 *    lane's `skipped`), deletes its own dead-letter record, and runs another round from step 1 against
 *    the new version (bounded). Batch A = 1..10 and B = 5..15 read at the same version: one of them
 *    lands; the other re-reads and adds only what is left (11..15, or nothing).
 *
 * The txn is a high-water mark, so it relies on what Event Hubs guarantees: a partition's events come
 * in sequence-number order, and a delivery starts at or before the first event not yet checkpointed —
 * which is at or before the first event not yet applied, since the checkpoint moves only after this
 * stage returned. A batch whose first new event does not follow the last applied one (events expired
 * from the hub unread, a consumer started at `latest`) is ingested and reports the `sequenceGap`.
 *
 * Errors. An exception from an Event Hubs trigger still advances the checkpoint, so this stage must not
 * throw for what a retry can fix: transient storage errors (and exhausted lane contention) are retried
 * with backoff (`retry`), whole rounds at a time, after checking whether the failed attempt's intent
 * landed anyway. Bodies that are not JSON objects are dead-lettered, never thrown. It throws only when
 * the batch cannot be ingested (bad configuration, storage failing beyond the retries); it then first
 * tries to write a dead-letter record of the whole batch, bodies included, and throws an
 * `EventBatchError` naming the partition, sequence numbers and that record.
 *
 * Accounting (`EventBatchOutcome`): events: received = skipped + written (≥ 1 row in the table) +
 * dead-lettered (no row in the table); rows of the events not skipped: read = written + dead-lettered,
 * where a JSON object is one row, each element of a JSON array one row, and a body that yields no row
 * (not JSON, a scalar, an empty array) one row that is dead-lettered.
 *
 * An event batch is held in memory while it is read (the trigger bounds it by its batch size); files
 * are streamed, events need not be.
 */
import { createHash, randomUUID } from 'node:crypto';
import { loadSnapshotIfExists } from '../delta/commit';
import { isTransient } from '../errors';
import { createTable, laneCommitRecord, LaneOptions, SchemaChangedError, Snapshot, submitToLane, txnVersion, WriteRejectedError } from '../delta';
import { LANE_INTENTS } from '../delta/lane';
import { readKeptCommit } from '../delta/latest';
import { writeDataFiles, WriteFilesOptions } from '../delta/writer';
import { ObjectAlreadyExistsError, ObjectStore } from '../storage/types';
import { BatchConformer, dataSchema, fileMetadata, newColumns } from './columns';
import {
  decodeBody,
  BodyRow,
  clearFileColumns,
  EventRead,
  EventRow,
  eventCreationSchema,
  eventWriteSchema,
  hasRecord,
  rawBody,
  recordText,
  readEventRows,
  withEventColumns,
  writeEventDeadLetter,
} from './event-rows';
import { findIntentCommit, IngestConfigError, tableKeyOf } from './ingest';
import { formatsReader, ReadInput } from './reader';
import type { DeadLetterTarget, EventBatchOutcome, HubEvent, HubPartition, IngestSource } from './types';

/** Everything `ingestEvents` needs. */
export interface IngestEventsOptions {
  /** Store rooted at the bronze table. */
  table: ObjectStore;
  /** Key of the table in records and intent ids (default: `tableKeyOf(table)`). */
  tableKey?: string;
  partition: HubPartition;
  /** In delivery order (one partition per call). */
  events: HubEvent[];
  /** Body format (`auto`, `json`, `ndjson` all mean: each body is JSON), evolution mode, hints, partitioning. */
  source?: IngestSource;
  deadLetter: DeadLetterTarget;
  /** Clock for `_ingested_at` / `_load_date` (default: now). */
  now?: Date;
  lane?: LaneOptions;
  files?: WriteFilesOptions;
  /** Reader (default: `readInput` of shared/formats). */
  reader?: ReadInput;
  /** Retries of transient failures: how many (default 5) and the first delay (default 250 ms, doubling). */
  retry?: { attempts?: number; delayMs?: number };
  /**
   * Whether a batch that cannot be ingested is dead-lettered whole before the error is thrown: always
   * (true, the default), never (false), or only when the failure is terminal (`'terminal'`). A host
   * whose retry policy runs a batch again until it succeeds passes `'terminal'`: a transient failure
   * leaves no record (the retry will ingest the events), a terminal one would fail every retry, so its
   * events are kept in one record and the host can let the checkpoint move on.
   */
  deadLetterOnFailure?: boolean | 'terminal';
  /** Called once the batch's rows are in a table version (e.g. to update the catalog); must not throw. */
  onCommitted?: (version: number) => Promise<void>;
}

/** The batch could not be ingested; `deadLetter` names the record of its events when one was written. */
export class EventBatchError extends Error {
  readonly transient: boolean;
  constructor(
    message: string,
    readonly deadLetter: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'EventBatchError';
    this.transient = isTransient(cause);
  }
}

const MAX_ROUNDS = 8;
const BODY_FORMATS = new Set(['auto', 'json', 'ndjson']);

/**
 * The Delta txn application id of a partition: `sluice-eh:<namespace>/<hub>/<consumerGroup>/<partitionId>`.
 * Names are compared as Event Hubs does (case-insensitively), and a namespace given as its host name
 * (`x.servicebus.windows.net`, `sb://…`) is the same namespace as its short name.
 *
 * @param p the partition
 * @returns the appId
 */
export function hubAppId(p: HubPartition): string {
  const namespace = p.namespace
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/\/+$/, '')
    .replace(/\.servicebus\.windows\.net$/, '');
  return `sluice-eh:${namespace}/${p.hub.trim().toLowerCase()}/${p.consumerGroup.trim().toLowerCase()}/${p.partitionId}`;
}

/**
 * Lane intent id of the batch written against one applied txn version: equal for every writer of the
 * partition that read the same version, so at most one of them commits (see the module doc).
 */
function eventIntentId(tableKey: string, appId: string, applied: number): string {
  return `eh-${createHash('sha256').update(`${tableKey}\n${appId}\n${applied}`).digest('hex').slice(0, 40)}`;
}

/**
 * Ingest one batch of events of one partition into its bronze table, each (partition, sequence number)
 * exactly once. Retries transient failures itself; throws `EventBatchError` only when the batch
 * cannot be ingested, after dead-lettering it.
 *
 * @param options table, partition, events, source settings, dead-letter target
 * @returns what happened
 */
export async function ingestEvents(options: IngestEventsOptions): Promise<EventBatchOutcome> {
  const outcome = await new EventBatch(options).ingest();
  if (outcome.version !== undefined && options.onCommitted) await options.onCommitted(outcome.version);
  return outcome;
}

/** One submitted lane intent of this call. */
interface Attempt {
  id: string;
  intentId: string;
  baseVersion: number;
  /** `unknown` while the submission may still land (it failed midway or is pending). */
  state: 'unknown' | 'landed' | 'lost';
  outcome: EventBatchOutcome;
}

class EventBatch {
  private readonly now: Date;
  private readonly tableKey: string;
  private readonly appId: string;
  private readonly source: IngestSource;
  private reader: ReadInput | undefined;
  private readonly bodies = new Map<number, BodyRow[]>();
  private readonly attempts: Attempt[] = [];
  /** Highest applied sequence number seen in the table (-1: none). */
  private applied = -1;

  constructor(private readonly options: IngestEventsOptions) {
    this.now = options.now ?? new Date();
    this.tableKey = options.tableKey ?? tableKeyOf(options.table);
    this.appId = hubAppId(options.partition);
    this.source = options.source ?? {};
  }

  async ingest(): Promise<EventBatchOutcome> {
    const retries = this.options.retry?.attempts ?? 5;
    const delay = this.options.retry?.delayMs ?? 250;
    for (let failures = 0; ; failures++) {
      try {
        const format = this.source.format ?? 'auto';
        if (!BODY_FORMATS.has(format))
          throw new IngestConfigError(
            `ingest events: source format "${format}" of ${this.options.table.url} cannot be read from Event Hubs bodies (use json, ndjson or auto)`,
          );
        this.reader ??= this.options.reader ?? formatsReader();
        return await this.rounds();
      } catch (err) {
        if (!isTransient(err) || failures >= retries) throw await this.giveUp(err);
        await new Promise((r) => setTimeout(r, Math.min(8000, delay * 2 ** failures) * (0.75 + Math.random() / 2)));
      }
    }
  }

  private async rounds(): Promise<EventBatchOutcome> {
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const earlier = await this.landedEarlier();
      if (earlier) return earlier;
      const snapshot = await loadSnapshotIfExists(this.options.table);
      this.applied = snapshot ? txnVersion(snapshot, this.appId) : -1;
      const { fresh, skipped } = this.select(this.applied);
      if (fresh.length === 0) return this.nothingNew(skipped);
      const outcome = await this.attempt(snapshot, fresh, skipped);
      if (outcome) return outcome;
    }
    // Transient: the other writers have made progress, a later round may go through.
    throw Object.assign(new Error(`ingest events: ${this.label()} was overtaken by other writers of the partition ${MAX_ROUNDS} times`), { transient: true });
  }

  /** Events after `applied` (the first of repeated sequence numbers), and how many were dropped. */
  private select(applied: number): { fresh: number[]; skipped: number } {
    const fresh: number[] = [];
    const seen = new Set<number>();
    this.options.events.forEach((event, i) => {
      const seq = event.sequenceNumber;
      if (Number.isSafeInteger(seq) && (seq <= applied || seen.has(seq))) return;
      seen.add(seq);
      fresh.push(i);
    });
    return { fresh, skipped: this.options.events.length - fresh.length };
  }

  /** One round against one table version: write, dead-letter, submit; null when it must run again. */
  private async attempt(snapshot: Snapshot | null, fresh: number[], skipped: number): Promise<EventBatchOutcome | null> {
    const { table, events, partition } = this.options;
    const mode = this.source.schemaEvolution ?? 'addNewColumns';
    const rows = this.rowsOf(fresh);
    const name = `eventhubs/${partition.hub}/${partition.partitionId}.ndjson`;
    const hints = { schemaHints: this.source.schemaHints ?? {} };
    // The formats reader may read decoded bodies from their values; another reader is handed their text.
    const objects = this.options.reader === undefined;
    let read = await readEventRows(this.reader!, rows, name, { ...hints, ...(snapshot ? { targetSchema: dataSchema(snapshot.schema) } : {}) }, objects);

    if (!snapshot) {
      if (read.rowEvents.length === 0) return this.withoutCommit(rows, fresh, skipped);
      await this.createTable(read);
      return null; // read again against the new table, as every later batch is
    }

    let added = newColumns(read.schema, snapshot.schema);
    if (mode === 'failOnNewColumns' && added.length) {
      const flagged = eventsWithValues(
        read,
        added.map((f) => f.name),
      );
      if (flagged.size) {
        for (const row of rows) {
          const columns = flagged.get(row.event);
          if (!columns || row.reason) continue;
          Object.assign(row, {
            raw: recordText(row),
            line: undefined,
            object: undefined,
            reason: `new column${columns.length > 1 ? 's' : ''} ${columns.join(', ')} not in the table schema (schemaEvolution failOnNewColumns)`,
          });
        }
        read = await readEventRows(this.reader!, rows, name, { ...hints, targetSchema: dataSchema(snapshot.schema) }, objects);
        added = newColumns(read.schema, snapshot.schema);
      }
    }
    const sequences = fresh.map((i) => events[i].sequenceNumber).filter((n) => Number.isSafeInteger(n));
    if (sequences.length === 0) return this.withoutCommit(rows, fresh, skipped);
    const lastSequenceNumber = Math.max(...sequences);
    const firstSequenceNumber = Math.min(...sequences);
    const sequenceGap = this.applied >= 0 && firstSequenceNumber > this.applied + 1 ? { from: this.applied + 1, to: firstSequenceNumber - 1 } : undefined;

    const { schema, evolved } = eventWriteSchema(snapshot.schema, mode === 'addNewColumns' ? added : []);
    const conformer = new BatchConformer(schema, fileMetadata(this.now, '', ''), mode === 'rescue' ? added : []);
    let at = 0;
    const batches = read.batches.map((batch) => {
      const owners = read.rowEvents.slice(at, (at += batch.numRows)).map((i) => events[i]);
      return clearFileColumns(conformer.conform(withEventColumns(batch, partition.partitionId, owners)));
    });
    // Batches of several partitions are written at once: their encoding goes to idle workers, off the
    // thread that reads the next batches.
    const fileOptions = { smallFilesInWorkers: true, dictionary: false, ...this.options.files };
    const files = await writeDataFiles({ store: table, schema, partitionColumns: snapshot.partitionColumns }, batches, fileOptions);
    const counts = this.count(rows, fresh, skipped, conformer.rowsRescued);
    if (counts.rowsWritten !== conformer.rowsWritten)
      throw new Error(`ingest events: accounting mismatch for ${this.label()}: ${counts.rowsWritten} rows read as good, ${conformer.rowsWritten} written`);

    const id = randomUUID();
    const deadLetter = counts.rowsDeadLettered ? await this.deadLetter(id, rows, counts) : undefined;
    const intentId = eventIntentId(this.tableKey, this.appId, this.applied);
    const newNames = evolved && mode === 'addNewColumns' ? added.map((f) => f.name) : [];
    const attempt: Attempt = {
      id,
      intentId,
      baseVersion: snapshot.version,
      state: 'unknown',
      outcome: {
        status: 'committed',
        ...counts,
        ...(deadLetter ? { deadLetter } : {}),
        lastSequenceNumber,
        ...(sequenceGap ? { sequenceGap } : {}),
        ...(newNames.length ? { newColumns: newNames } : {}),
      },
    };
    this.attempts.push(attempt);
    const { namespace, hub, consumerGroup, partitionId } = partition;
    let landed;
    try {
      landed = await submitToLane(
        table,
        {
          id: intentId,
          baseVersion: snapshot.version,
          tableId: snapshot.metadata.id,
          partitionColumns: snapshot.partitionColumns,
          adds: files,
          txn: { appId: this.appId, version: lastSequenceNumber },
          source: {
            kind: 'events',
            intent: intentId,
            attempt: id,
            table: this.tableKey,
            appId: this.appId,
            eventHub: { namespace, hub, consumerGroup, partitionId },
            ...(this.source.name ? { source: this.source.name } : {}),
            appliedBefore: this.applied,
            firstSequenceNumber,
            lastSequenceNumber,
            ...(sequenceGap ? { sequenceGap } : {}),
            ...counts,
            ...(deadLetter ? { deadLetter } : {}),
          },
          ...(evolved ? { columns: schema.fields } : {}),
        },
        this.options.lane,
        snapshot,
      );
    } catch (err) {
      // The intent was withdrawn (a column it adds got another type) or never stored (another writer
      // stored one with the same id in the same millisecond): run again.
      if (err instanceof SchemaChangedError || (err instanceof ObjectAlreadyExistsError && err.path.startsWith(LANE_INTENTS))) return this.lost(attempt);
      throw err;
    }
    if (landed.skipped) return this.lost(attempt);
    const carrier = await this.carrier(landed.version, intentId);
    return carrier ? this.landed(carrier, landed.version) : this.lost(attempt);
  }

  /** Candidate rows of the fresh events (fresh objects each round: reading marks them). */
  private rowsOf(fresh: number[]): EventRow[] {
    const rows: EventRow[] = [];
    for (const i of fresh) {
      const event = this.options.events[i];
      if (!Number.isSafeInteger(event.sequenceNumber) || event.sequenceNumber < 0) {
        rows.push({ event: i, reason: `no valid sequence number (${String(event.sequenceNumber)})`, ...rawBody(event.body) });
        continue;
      }
      let body = this.bodies.get(i);
      if (!body) this.bodies.set(i, (body = decodeBody(event.body)));
      // The common bodies, one object decoded or as text, in fixed shapes; others keep whatever their rows say.
      for (const row of body) {
        if (row.element === undefined && row.object !== undefined) rows.push({ event: i, object: row.object });
        else if (row.element === undefined && row.line !== undefined) rows.push({ event: i, line: row.line });
        else rows.push({ ...row, event: i });
      }
    }
    return rows;
  }

  private async createTable(read: EventRead): Promise<void> {
    const schema = eventCreationSchema(read.schema);
    const partitionColumns = this.source.partitionBy ?? ['_load_date'];
    const missing = partitionColumns.filter((c) => !schema.fields.some((f) => f.name === c));
    if (missing.length) {
      throw new IngestConfigError(
        `ingest events: partition column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${this.options.table.url} not in the columns of the events of ${this.label()} (${schema.fields.map((f) => f.name).join(', ')})`,
      );
    }
    try {
      await createTable(this.options.table, { schema, partitionColumns });
    } catch (err) {
      if (!(err instanceof WriteRejectedError && /already exists/.test(err.message))) throw err;
    }
  }

  private count(rows: EventRow[], fresh: number[], skipped: number, rowsRescued: number): Omit<EventBatchOutcome, 'status'> {
    // Rows of one event are adjacent (rowsOf), so an event with a written row is counted once without a set.
    let rowsWritten = 0;
    let eventsWritten = 0;
    let last = -1;
    for (const r of rows) {
      if (!hasRecord(r)) continue;
      rowsWritten++;
      if (r.event !== last) eventsWritten++;
      last = r.event;
    }
    return {
      eventsReceived: this.options.events.length,
      eventsSkipped: skipped,
      eventsWritten,
      eventsDeadLettered: fresh.length - eventsWritten,
      rowsRead: rows.length,
      rowsWritten,
      rowsRescued,
      rowsDeadLettered: rows.length - rowsWritten,
    };
  }

  private deadLetter(attempt: string, rows: EventRow[], counts: Omit<EventBatchOutcome, 'status'>, reason?: string): Promise<string> {
    const { rowsRead, rowsWritten, rowsDeadLettered, eventsReceived, eventsSkipped, eventsWritten, eventsDeadLettered } = counts;
    return writeEventDeadLetter(
      {
        target: this.options.deadLetter,
        table: this.tableKey,
        partition: this.options.partition,
        startedAt: this.now.toISOString(),
        attempt,
        ...(reason ? { reason } : {}),
        counts: { rowsRead, rowsWritten, rowsDeadLettered, eventsReceived, eventsSkipped, eventsWritten, eventsDeadLettered },
      },
      rows.filter((r) => !hasRecord(r)),
      this.options.events,
    );
  }

  /** No row to write and no txn to commit (no table yet, or no valid sequence number): dead-letter only. */
  private async withoutCommit(rows: EventRow[], fresh: number[], skipped: number): Promise<EventBatchOutcome> {
    const counts = this.count(rows, fresh, skipped, 0);
    const deadLetter = await this.deadLetter(randomUUID(), rows, counts);
    return { status: 'empty', ...counts, deadLetter };
  }

  private nothingNew(skipped: number): EventBatchOutcome {
    const zero = { eventsWritten: 0, eventsDeadLettered: 0, rowsRead: 0, rowsWritten: 0, rowsRescued: 0, rowsDeadLettered: 0 };
    const status = this.options.events.length ? 'duplicate' : 'empty';
    return {
      status,
      eventsReceived: this.options.events.length,
      eventsSkipped: skipped,
      ...zero,
      ...(this.applied >= 0 ? { lastSequenceNumber: this.applied } : {}),
    };
  }

  /**
   * The attempt of this call whose source the commit at `version` lists for `intentId`, if any. The
   * commit is usually one this process's lane just wrote, kept in memory (commit files never change).
   */
  private async carrier(version: number, intentId: string): Promise<Attempt | undefined> {
    const lane = laneCommitRecord((await readKeptCommit(this.options.table, version)) ?? []);
    if (!lane) return undefined;
    const source = lane.sources.find((s) => s.intent === intentId);
    return this.attempts.find((a) => a.id === source?.attempt);
  }

  /** After a failure: an attempt of this call whose intent was stored may have landed anyway. */
  private async landedEarlier(): Promise<EventBatchOutcome | null> {
    for (const attempt of this.attempts.filter((a) => a.state === 'unknown')) {
      const found = await findIntentCommit(this.options.table, attempt.baseVersion, attempt.intentId);
      if (!found) continue; // still pending (it shares its id with any new attempt on the same base)
      const carrier = this.attempts.find((a) => a.id === found.source.attempt);
      if (carrier) return this.landed(carrier, found.version);
      await this.lost(attempt);
    }
    return null;
  }

  private async landed(carrier: Attempt, version: number): Promise<EventBatchOutcome> {
    carrier.state = 'landed';
    // No other attempt can land now: same base means same id (landed), older bases are overtaken.
    for (const other of this.attempts) if (other !== carrier && other.state !== 'lost') await this.lost(other);
    return { ...carrier.outcome, version };
  }

  private async lost(attempt: Attempt): Promise<null> {
    attempt.state = 'lost';
    // Its events are dead-lettered again by the round that ingests them (or were by the writer that did).
    if (attempt.outcome.deadLetter) await this.options.deadLetter.store.delete(attempt.outcome.deadLetter).catch(() => undefined);
    return null;
  }

  /** The batch cannot be ingested: keep its events in a dead-letter record, and say so. */
  private async giveUp(err: unknown): Promise<EventBatchError> {
    const message = (err as Error)?.message ?? String(err);
    const keep = this.options.deadLetterOnFailure ?? true;
    if (keep === false || (keep === 'terminal' && isTransient(err)))
      return new EventBatchError(`ingest events: ${this.label()} into ${this.options.table.url} failed: ${message}`, undefined, err);
    const pending = this.options.events
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => !(Number.isSafeInteger(e.sequenceNumber) && e.sequenceNumber <= this.applied));
    let where: string;
    let path: string | undefined;
    try {
      const rows: EventRow[] = pending.map(({ e, i }) => ({ event: i, reason: `not ingested: ${message}`, ...rawBody(e.body) }));
      const counts = {
        ...this.count(
          rows,
          pending.map((p) => p.i),
          this.options.events.length - pending.length,
          0,
        ),
      };
      // An intent of this call that is still pending may land later: the record must not claim otherwise.
      const pendingIntent = this.attempts.some((a) => a.state === 'unknown')
        ? " (an intent of this batch is pending in the commit lane and may still land: the table's txn tells)"
        : '';
      path = await this.deadLetter(randomUUID(), rows, counts, `the batch could not be ingested: ${message}${pendingIntent}`);
      where = `; its ${pending.length} unapplied events are in the dead-letter record ${path}`;
    } catch (dlErr) {
      where = `; writing their dead-letter record failed too: ${(dlErr as Error).message}`;
    }
    return new EventBatchError(`ingest events: ${this.label()} into ${this.options.table.url} failed: ${message}${where}`, path, err);
  }

  private label(): string {
    const seqs = this.options.events.map((e) => e.sequenceNumber).filter((n) => Number.isSafeInteger(n));
    const range = seqs.length ? ` sequence numbers ${Math.min(...seqs)}..${Math.max(...seqs)}` : '';
    return `${this.appId}${range}`;
  }
}

/** Events (by index) with a non-null value in one of `columns`, and which. */
function eventsWithValues(read: EventRead, columns: string[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let at = 0;
  for (const batch of read.batches) {
    for (const name of columns) {
      const vector = batch.getChild(name);
      if (!vector) continue;
      for (let r = 0; r < batch.numRows; r++) {
        if (!vector.isValid(r)) continue;
        const event = read.rowEvents[at + r];
        const list = out.get(event) ?? [];
        if (!list.includes(name)) list.push(name);
        out.set(event, list);
      }
    }
    at += batch.numRows;
  }
  return out;
}
