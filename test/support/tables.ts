/**
 * Inspection helpers for the tables bench/writer-process.ts writes (columns writer:int,
 * batch:int, value:long = writer*1000+batch): rows per batch, the log's versions and checkpoints,
 * data files in storage. They only gather facts; the tests assert.
 */
import { Action, readTable, Snapshot } from '../../shared/delta';
import { LOG_DIR, readCommit } from '../../shared/delta/log';
import { decodeAddPath } from '../../shared/delta/partitions';
import { LANE_INTENTS } from '../../shared/delta/lane';
import type { ObjectStore } from '../../shared/storage/types';

/** `writer:batch` key. */
export const batchKey = (writer: number, batch: number) => `${writer}:${batch}`;

/** Rows of a table version counted per batch, plus rows whose value is not writer*1000+batch. */
export async function rowsPerBatch(snapshot: Snapshot): Promise<{ rows: number; perBatch: Map<string, number>; badValues: number }> {
  const table = await readTable(snapshot);
  const writers = table.getChild('writer')!.toArray() as Int32Array;
  const batches = table.getChild('batch')!.toArray() as Int32Array;
  const values = table.getChild('value')!.toArray() as BigInt64Array;
  const perBatch = new Map<string, number>();
  let badValues = 0;
  for (let i = 0; i < table.numRows; i++) {
    const key = batchKey(writers[i], batches[i]);
    perBatch.set(key, (perBatch.get(key) ?? 0) + 1);
    if (values[i] !== BigInt(writers[i] * 1000 + batches[i])) badValues++;
  }
  return { rows: table.numRows, perBatch, badValues };
}

/** Commit and checkpoint versions present in `_delta_log/`, ascending. */
export async function logVersions(store: ObjectStore): Promise<{ commits: number[]; checkpoints: number[] }> {
  const commits: number[] = [];
  const checkpoints: number[] = [];
  for await (const info of store.list(LOG_DIR)) {
    const name = info.path.slice(LOG_DIR.length);
    let m = /^(\d{20})\.json$/.exec(name);
    if (m) commits.push(Number(m[1]));
    m = /^(\d{20})\.checkpoint\.parquet$/.exec(name);
    if (m) checkpoints.push(Number(m[1]));
  }
  return { commits: commits.sort((a, b) => a - b), checkpoints: checkpoints.sort((a, b) => a - b) };
}

/** Versions missing from 0..max of a sorted list (empty when contiguous from 0). */
export function gaps(versions: number[]): number[] {
  const have = new Set(versions);
  const missing: number[] = [];
  for (let v = 0; v <= Math.max(-1, ...versions); v++) if (!have.has(v)) missing.push(v);
  return missing;
}

/** Paths of data files in storage: everything outside folders starting with `_` or `.`. */
export async function storedDataFiles(store: ObjectStore): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const info of store.list('')) {
    if (info.path.split('/').some((s) => (s.startsWith('_') && !s.includes('=')) || s.startsWith('.'))) continue;
    out.add(info.path);
  }
  return out;
}

/** Storage paths of a snapshot's live files. */
export function livePaths(snapshot: Snapshot): Set<string> {
  return new Set([...snapshot.state.files.values()].map((f) => decodeAddPath(f.path, snapshot.table)));
}

/** Every commit of the log, in version order (versions 0..latest must all exist). */
export async function readAllCommits(store: ObjectStore, latest: number): Promise<Action[][]> {
  const out: Action[][] = [];
  for (let v = 0; v <= latest; v += 32) {
    const chunk = Array.from({ length: Math.min(32, latest + 1 - v) }, (_, i) => v + i);
    out.push(...(await Promise.all(chunk.map((version) => readCommit(store, version)))));
  }
  return out;
}

/** The batch a writer-process data file holds, from its stats (one batch per file). */
export function fileBatch(stats: string | null | undefined): string | undefined {
  if (!stats) return undefined;
  const s = JSON.parse(stats) as { minValues?: Record<string, number>; maxValues?: Record<string, number> };
  if (!s.minValues || !s.maxValues) return undefined;
  if (s.minValues.writer !== s.maxValues.writer || s.minValues.batch !== s.maxValues.batch) return undefined; // compacted
  return batchKey(s.minValues.writer, s.minValues.batch);
}

/** Intent blobs left in the commit lane folder. */
export async function laneIntents(store: ObjectStore): Promise<{ path: string; id: string }[]> {
  const out: { path: string; id: string }[] = [];
  for await (const info of store.list(LANE_INTENTS)) {
    const intent = JSON.parse(new TextDecoder().decode(await store.read(info.path))) as { id: string };
    out.push({ path: info.path, id: intent.id });
  }
  return out;
}

/** Intent ids each lane commit carried (`commitInfo.sluiceLane.intents`). */
export function laneIntentIds(commits: Action[][]): Set<string> {
  const ids = new Set<string>();
  for (const actions of commits) {
    for (const a of actions) {
      const lane = 'commitInfo' in a ? (a.commitInfo as { sluiceLane?: { intents?: string[] } }).sluiceLane : undefined;
      for (const id of lane?.intents ?? []) ids.add(id);
    }
  }
  return ids;
}
