/**
 * An independent checker for Delta tables, used by the write tests to prove that what Sluice writes
 * is a valid Delta table that other engines can read.
 *
 * `validateTable` parses `_delta_log/` itself (its own listing, JSON parsing, field checks and action
 * reconciliation); it shares nothing with Sluice's log reader except the storage layer and hyparquet.
 * Only the final cross-check compares its own replay with `loadSnapshot`.
 *
 * `duckdbCheck` reads every live data file with DuckDB (read only) and compares row counts, non-null
 * counts and numeric sums with the stats and with what Sluice's own reader returns for that file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { ObjectStore } from '../../shared/storage/types';
import { ObjectNotFoundError } from '../../shared/storage/types';
import type { AddFile } from '../../shared/delta/actions';
import { loadSnapshot, Snapshot } from '../../shared/delta/snapshot';
import { scanTable } from '../../shared/delta/scan';
import { readValues } from '../../shared/delta/values';
import type { DeltaType } from '../../shared/delta/schema';

type Json = Record<string, unknown>;

/** What `validateTable` found. Tests assert `problems` is empty. */
export interface ValidationReport {
  /** Newest commit version. */
  latestVersion: number;
  /** Number of commit files checked. */
  versions: number;
  /** Versions of classic checkpoints present. */
  checkpoints: number[];
  /** Version named by `_last_checkpoint`, null when the file is absent. */
  lastCheckpoint: number | null;
  /** Live files at the latest version. */
  files: number;
  /** Rows in the live files, from the Parquet footers. */
  rows: number;
  /** Everything wrong, one precise message each. */
  problems: string[];
}

/** Options for `validateTable`. */
export interface ValidationOptions {
  /** Every `add` must carry stats (true for tables only Sluice wrote; old Spark files have none). */
  requireStats?: boolean;
}

const COMMIT_RE = /^(\d{20})\.json$/;
const CHECKPOINT_RE = /^(\d{20})\.checkpoint\.parquet$/;
const LOG = '_delta_log/';

/** Replayed state, built only from this file's own parsing. */
interface ReplayState {
  protocol?: Json;
  metaData?: Json;
  /** key (path + DV id) → add action body, with the version that added it. */
  files: Map<string, { add: Json; version: number }>;
  tombstones: Map<string, Json>;
  txns: Map<string, number>;
}

function emptyReplay(): ReplayState {
  return { files: new Map(), tombstones: new Map(), txns: new Map() };
}

function cloneReplay(s: ReplayState): ReplayState {
  return { protocol: s.protocol, metaData: s.metaData, files: new Map(s.files), tombstones: new Map(s.tombstones), txns: new Map(s.txns) };
}

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));

function fileKey(body: Json): string {
  const dv = body.deletionVector as Json | null | undefined;
  if (!dv) return String(body.path);
  return `${body.path}\u0000${dv.storageType}${dv.pathOrInlineDv}${dv.offset === undefined || dv.offset === null ? '' : '@' + dv.offset}`;
}

function pad20(v: number): string {
  return String(v).padStart(20, '0');
}

/** Sorted-key JSON, bigints as decimal text: for comparing structures. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Map) return norm(Object.fromEntries(v));
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, norm((v as Json)[k])]),
      );
    return v === undefined ? null : v;
  };
  return JSON.stringify(norm(value));
}

// ---------------------------------------------------------------------------------------------------
// add.path encoding
// ---------------------------------------------------------------------------------------------------

/** Characters a path segment may hold unescaped (RFC 3986 pchar minus `%`). */
const SAFE_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

function encodeMinimal(decoded: string): string {
  let out = '';
  for (const ch of decoded) {
    if (ch === '/' || SAFE_CHAR.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Canonical form of an encoded path: escapes of safe ASCII characters decoded, other hex upper-cased. */
function canonicalEscapes(encoded: string): string {
  return encoded.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return SAFE_CHAR.test(ch) ? ch : m.toUpperCase();
  });
}

/**
 * Problems with an `add.path` as a relative RFC 2396/3986 URI reference (empty when fine).
 *
 * @param path the logged path
 * @returns messages (without the location prefix)
 */
export function addPathProblems(path: string): string[] {
  const out: string[] = [];
  if (!path) return ['is empty'];
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path)) out.push('is an absolute URI (has a scheme); Sluice must write paths relative to the table root');
  if (path.startsWith('/')) out.push('starts with "/"; it must be relative to the table root');
  if (path.includes(' ')) out.push('contains a raw space (must be %20)');
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) out.push('contains a raw "%" not followed by two hex digits (must be %25)');
  const bad = [...new Set([...path].filter((ch) => ch !== '/' && ch !== '%' && ch !== ' ' && !SAFE_CHAR.test(ch)))];
  if (bad.length) out.push(`contains characters that must be percent-encoded: ${bad.map((c) => JSON.stringify(c)).join(' ')}`);
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) out.push('has an empty, "." or ".." segment');
  if (segments[0].includes(':')) out.push('has ":" in its first segment, which reads as a URI scheme');
  let decoded: string | undefined;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    out.push('does not percent-decode (malformed escape or invalid UTF-8)');
  }
  if (decoded !== undefined && out.length === 0) {
    const again = encodeMinimal(decoded);
    if (canonicalEscapes(again) !== canonicalEscapes(path))
      out.push(`is not stable under decode+encode: decodes to ${JSON.stringify(decoded)}, which encodes to ${JSON.stringify(again)}`);
  }
  return out;
}

/** Characters Hive escapes in partition directory names (Hive FileUtils.escapePathName). */
const HIVE_ESCAPED = /[\u0000-\u001f"#%'*/:=?\\\u007f{[\]^]/g;

/**
 * The Hive-style directory a file of this partition belongs in (unescaped for storage, i.e. the
 * decoded `add.path` minus the file name): `a=1/b=x%2Fy`, nulls as `__HIVE_DEFAULT_PARTITION__`.
 *
 * @param columns partition columns in table order
 * @param values the add's partitionValues
 * @returns the directory
 */
export function expectedHiveDirectory(columns: string[], values: Record<string, string | null>): string {
  const esc = (s: string) => s.replace(HIVE_ESCAPED, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
  return columns
    .map((c) => `${esc(c)}=${values[c] === null || values[c] === undefined || values[c] === '' ? '__HIVE_DEFAULT_PARTITION__' : esc(values[c]!)}`)
    .join('/');
}

// ---------------------------------------------------------------------------------------------------
// Parquet via hyparquet
// ---------------------------------------------------------------------------------------------------

let hyparquet: Promise<[typeof import('hyparquet'), typeof import('hyparquet-compressors')]> | undefined;
function loadHyparquet() {
  hyparquet ??= Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  return hyparquet;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Top-level column names of a flattened Parquet schema. */
function topLevelNames(schema: { name: string; num_children?: number }[]): string[] {
  const names: string[] = [];
  const skip = (i: number): number => {
    let next = i + 1;
    for (let c = 0; c < (schema[i].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  for (let i = 1; i < schema.length; i = skip(i)) names.push(schema[i].name);
  return names;
}

// ---------------------------------------------------------------------------------------------------
// validateTable
// ---------------------------------------------------------------------------------------------------

/**
 * Check a table against the Delta protocol's writer rules, independently of Sluice's log reader.
 *
 * @param store store rooted at the table
 * @param options strictness
 * @returns counts and the list of problems (empty when the table is valid)
 */
export async function validateTable(store: ObjectStore, options: ValidationOptions = {}): Promise<ValidationReport> {
  const problems: string[] = [];
  const problem = (msg: string) => problems.push(msg);

  // 1. Listing.
  const commits = new Map<number, string>();
  const checkpoints = new Map<number, string>();
  let hasLastCheckpoint = false;
  for await (const info of store.list(LOG)) {
    const name = info.path.slice(LOG.length);
    if (name.includes('/')) continue;
    let m = COMMIT_RE.exec(name);
    if (m) commits.set(Number(m[1]), info.path);
    else if ((m = CHECKPOINT_RE.exec(name))) checkpoints.set(Number(m[1]), info.path);
    else if (name === '_last_checkpoint') hasLastCheckpoint = true;
  }
  const report: ValidationReport = {
    latestVersion: -1,
    versions: commits.size,
    checkpoints: [...checkpoints.keys()].sort((a, b) => a - b),
    lastCheckpoint: null,
    files: 0,
    rows: 0,
    problems,
  };
  if (commits.size === 0) {
    problem(`${store.url}: no commit files under ${LOG}`);
    return report;
  }
  const versions = [...commits.keys()].sort((a, b) => a - b);
  const earliest = versions[0];
  const latest = versions[versions.length - 1];
  report.latestVersion = latest;
  for (let v = earliest; v <= latest; v++) {
    if (!commits.has(v)) problem(`log gap: commit ${LOG}${pad20(v)}.json (version ${v}) is missing between versions ${earliest} and ${latest}`);
  }
  for (const v of checkpoints.keys()) {
    if (v > latest) problem(`checkpoint ${LOG}${pad20(v)}.checkpoint.parquet is for version ${v}, but the newest commit is ${latest}`);
  }

  // Replay start: version 0, or a checkpoint covering the first retained commit.
  let state = emptyReplay();
  let from = 0;
  if (earliest > 0) {
    const base = [...checkpoints.keys()].filter((c) => c >= earliest - 1 && c <= latest).sort((a, b) => a - b)[0];
    if (base === undefined) {
      problem(`the log starts at version ${earliest} but there is no checkpoint at or after version ${earliest - 1} to start from`);
      return report;
    }
    const cp = await readCheckpointActions(store, checkpoints.get(base)!, problem);
    if (!cp) return report;
    state = checkpointToReplay(cp);
    from = base + 1;
  }

  // 2. Commits, parsed and replayed here.
  const atCheckpoint = new Map<number, ReplayState>();
  for (let v = from; v <= latest; v++) {
    const path = commits.get(v);
    if (!path) continue;
    const actions = await parseCommitFile(store, path, v, problem);
    checkCommit(actions, v, path, state, problem, options);
    applyCommit(state, actions, v);
    if (checkpoints.has(v)) atCheckpoint.set(v, cloneReplay(state));
  }
  if (!state.protocol) problem(`no protocol action at version ${latest}`);
  if (!state.metaData) problem(`no metaData action at version ${latest}`);

  // 3. Live data files: existence, size, row count, no partition columns inside.
  const partitionColumns = (state.metaData?.partitionColumns as string[] | undefined) ?? [];
  const schemaFields = schemaFieldNames(state.metaData);
  const live = [...state.files.values()];
  report.files = live.length;
  const [hp] = await loadHyparquet();
  await forEachLimit(live, 8, async ({ add, version }) => {
    const where = `data file "${add.path}" (added in version ${version})`;
    const logged = String(add.path);
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(logged)) return; // reported as a path problem already
    let decoded: string;
    try {
      decoded = decodeURIComponent(logged);
    } catch {
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await store.read(decoded);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        problem(`${where}: decoded path "${decoded}" does not exist in storage`);
        return;
      }
      throw err;
    }
    if (bytes.length !== num(add.size)) problem(`${where}: storage has ${bytes.length} bytes, the log says size ${add.size}`);
    let metadata;
    try {
      metadata = hp.parquetMetadata(toArrayBuffer(bytes));
    } catch (err) {
      problem(`${where}: not a readable Parquet file: ${(err as Error).message}`);
      return;
    }
    const rows = Number(metadata.num_rows);
    report.rows += rows;
    const stats = parseStatsText(add.stats);
    if (stats && typeof stats.numRecords === 'number' && stats.numRecords !== rows) {
      problem(`${where}: stats.numRecords is ${stats.numRecords} but the Parquet footer has num_rows ${rows}`);
    }
    const columns = topLevelNames(metadata.schema);
    for (const c of columns) {
      if (partitionColumns.some((p) => p.toLowerCase() === c.toLowerCase()))
        problem(`${where}: the file contains partition column "${c}" (partition values belong in the log only)`);
      else if (schemaFields && !schemaFields.has(c)) problem(`${where}: the file has column "${c}", which is not in the table schema`);
    }
  });

  // 4. Checkpoints versus our own replay.
  for (const [v, path] of [...checkpoints].sort((a, b) => a[0] - b[0])) {
    const expected = atCheckpoint.get(v);
    const cp = await readCheckpointActions(store, path, problem);
    if (!cp || !expected) continue; // unreadable (reported) or before the replay start
    compareCheckpoint(path, cp, expected, problem);
  }

  // 5. `_last_checkpoint`.
  if (hasLastCheckpoint) {
    const text = new TextDecoder().decode(await store.read(`${LOG}_last_checkpoint`));
    let hint: Json | undefined;
    try {
      hint = JSON.parse(text);
    } catch {
      problem(`${LOG}_last_checkpoint is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
    }
    if (hint) {
      if (!isInt(hint.version)) problem(`${LOG}_last_checkpoint has no integer "version"`);
      else {
        report.lastCheckpoint = num(hint.version);
        if (!checkpoints.has(report.lastCheckpoint))
          problem(`${LOG}_last_checkpoint names version ${hint.version}, but ${LOG}${pad20(report.lastCheckpoint)}.checkpoint.parquet does not exist`);
        const newest = Math.max(...checkpoints.keys());
        if (checkpoints.size && report.lastCheckpoint < newest)
          problem(`${LOG}_last_checkpoint names version ${hint.version}, older than the newest checkpoint ${newest}`);
        const expected = atCheckpoint.get(report.lastCheckpoint);
        if (expected && hint.numOfAddFiles !== undefined && num(hint.numOfAddFiles) !== expected.files.size) {
          problem(`${LOG}_last_checkpoint says numOfAddFiles ${hint.numOfAddFiles}, the checkpoint state has ${expected.files.size} live files`);
        }
      }
    }
  }

  // 6. Our replay versus Sluice's snapshot.
  try {
    const snapshot = await loadSnapshot(store);
    compareWithSnapshot(snapshot, state, latest, problem);
  } catch (err) {
    problem(`loadSnapshot failed: ${(err as Error).name}: ${(err as Error).message}`);
  }
  return report;
}

function schemaFieldNames(metaData: Json | undefined): Set<string> | null {
  try {
    const schema = JSON.parse(String(metaData?.schemaString));
    return new Set((schema.fields as { name: string }[]).map((f) => f.name));
  } catch {
    return null;
  }
}

function parseStatsText(stats: unknown): Json | null {
  if (typeof stats !== 'string') return null;
  try {
    const v = JSON.parse(stats);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

async function parseCommitFile(store: ObjectStore, path: string, version: number, problem: (m: string) => void): Promise<Json[]> {
  const bytes = await store.read(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    problem(`${path}: not valid UTF-8`);
    return [];
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) problem(`${path}: empty commit file (version ${version})`);
  const out: Json[] = [];
  lines.forEach((line, i) => {
    const where = `${path} line ${i + 1}`;
    if (!line.trim()) {
      problem(`${where}: blank line`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      problem(`${where}: not valid JSON (${(err as Error).message})`);
      return;
    }
    if (!isObject(value)) {
      problem(`${where}: not a JSON object`);
      return;
    }
    const keys = Object.keys(value);
    if (keys.length !== 1) {
      problem(`${where}: has ${keys.length} action keys (${keys.join(', ')}); a line holds exactly one action`);
      return;
    }
    out.push(value);
  });
  return out;
}

function checkFields(kind: string, body: Json, where: string, problem: (m: string) => void): void {
  const need = (field: string, ok: (v: unknown) => boolean, what: string) => {
    if (!(field in body) || body[field] === null || body[field] === undefined) problem(`${where}: ${kind} is missing required field "${field}"`);
    else if (!ok(body[field])) problem(`${where}: ${kind}.${field} is not ${what}: ${JSON.stringify(body[field])}`);
  };
  const isString = (v: unknown) => typeof v === 'string';
  const isBool = (v: unknown) => typeof v === 'boolean';
  const isStringMap = (v: unknown) => isObject(v) && Object.values(v).every((x) => x === null || typeof x === 'string');
  switch (kind) {
    case 'metaData': {
      need('id', (v) => isString(v) && v !== '', 'a non-empty string');
      need('format', (v) => isObject(v) && typeof v.provider === 'string' && (v.options === undefined || isObject(v.options)), 'an object {provider, options}');
      need('schemaString', isString, 'a string');
      need('partitionColumns', (v) => Array.isArray(v) && v.every(isString), 'an array of strings');
      need('configuration', isStringMap, 'a map of strings');
      if (typeof body.schemaString === 'string') {
        let schema: Json | undefined;
        try {
          schema = JSON.parse(body.schemaString);
        } catch {
          problem(`${where}: metaData.schemaString is not JSON`);
        }
        if (schema && (schema.type !== 'struct' || !Array.isArray(schema.fields))) problem(`${where}: metaData.schemaString is not a struct`);
        if (schema && Array.isArray(schema.fields) && Array.isArray(body.partitionColumns)) {
          const names = (schema.fields as Json[]).map((f) => String(f.name));
          const lower = names.map((n) => n.toLowerCase());
          if (new Set(lower).size !== lower.length) problem(`${where}: metaData schema has duplicate column names (case-insensitive)`);
          for (const c of body.partitionColumns as string[]) if (!names.includes(c)) problem(`${where}: partition column "${c}" is not in the schema`);
        }
      }
      break;
    }
    case 'protocol': {
      need('minReaderVersion', (v) => isInt(v) && num(v) >= 1, 'a positive integer');
      need('minWriterVersion', (v) => isInt(v) && num(v) >= 1, 'a positive integer');
      const rf = body.readerFeatures !== undefined && body.readerFeatures !== null;
      const wf = body.writerFeatures !== undefined && body.writerFeatures !== null;
      if (rf !== (body.minReaderVersion === 3)) problem(`${where}: protocol.readerFeatures must be present exactly when minReaderVersion is 3`);
      if (wf !== (body.minWriterVersion === 7)) problem(`${where}: protocol.writerFeatures must be present exactly when minWriterVersion is 7`);
      break;
    }
    case 'add':
      need('path', isString, 'a string');
      need('partitionValues', isStringMap, 'a map of string or null');
      need('size', (v) => isInt(v) && num(v) >= 0, 'a non-negative integer');
      need('modificationTime', isInt, 'an integer');
      need('dataChange', isBool, 'a boolean');
      if (body.stats !== undefined && body.stats !== null) {
        if (typeof body.stats !== 'string') problem(`${where}: add.stats is not a JSON string`);
        else {
          const stats = parseStatsText(body.stats);
          if (!stats) problem(`${where}: add.stats does not parse as a JSON object: ${body.stats.slice(0, 80)}`);
          else if (!isInt(stats.numRecords) || num(stats.numRecords) < 0) problem(`${where}: add.stats.numRecords is missing or not a non-negative integer`);
          else if (isObject(stats.nullCount)) {
            for (const [c, n] of Object.entries(stats.nullCount)) {
              if (typeof n === 'number' && n > num(stats.numRecords))
                problem(`${where}: add.stats.nullCount.${c} = ${n} exceeds numRecords ${stats.numRecords}`);
            }
          }
        }
      }
      break;
    case 'remove':
      need('path', isString, 'a string');
      need('dataChange', isBool, 'a boolean');
      if (body.deletionTimestamp !== undefined && body.deletionTimestamp !== null && !isInt(body.deletionTimestamp))
        problem(`${where}: remove.deletionTimestamp is not an integer`);
      break;
    case 'txn':
      need('appId', isString, 'a string');
      need('version', isInt, 'an integer');
      break;
    case 'cdc':
      need('path', isString, 'a string');
      need('partitionValues', isStringMap, 'a map of string or null');
      need('size', isInt, 'an integer');
      need('dataChange', (v) => v === false, 'false');
      break;
    case 'domainMetadata':
      need('domain', isString, 'a string');
      need('configuration', isString, 'a string');
      need('removed', isBool, 'a boolean');
      break;
  }
}

function checkCommit(actions: Json[], version: number, path: string, state: ReplayState, problem: (m: string) => void, options: ValidationOptions): void {
  let metaCount = 0;
  let protocolCount = 0;
  const txnApps = new Map<string, number>();
  const adds = new Map<string, number>();
  const removes = new Map<string, number>();
  const metaHere = actions.find((a) => isObject(a.metaData))?.metaData as Json | undefined;
  const partitionColumns = ((metaHere ?? state.metaData)?.partitionColumns as string[] | undefined) ?? [];
  actions.forEach((action) => {
    const kind = Object.keys(action)[0];
    const body = action[kind];
    const where = `${path} (version ${version}) ${kind}${isObject(body) && typeof body.path === 'string' ? ` "${body.path}"` : ''}`;
    if (kind === 'checkpointMetadata' || kind === 'sidecar') {
      problem(`${where}: "${kind}" actions belong in V2 checkpoints only, never in commits`);
      return;
    }
    if (!isObject(body)) {
      problem(`${where}: the action body is not an object`);
      return;
    }
    checkFields(kind, body, where, problem);
    if (kind === 'metaData') metaCount++;
    if (kind === 'protocol') protocolCount++;
    if (kind === 'txn') txnApps.set(String(body.appId), (txnApps.get(String(body.appId)) ?? 0) + 1);
    if (kind === 'add' || kind === 'remove') {
      const counts = kind === 'add' ? adds : removes;
      const key = fileKey(body);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (kind === 'add' && typeof body.path === 'string') {
      for (const p of addPathProblems(body.path)) problem(`${where}: add.path ${p}`);
      const values = isObject(body.partitionValues) ? body.partitionValues : {};
      for (const c of partitionColumns) {
        if (!(c in values)) problem(`${where}: partitionValues has no entry for partition column "${c}"`);
      }
      for (const c of Object.keys(values)) {
        if (!partitionColumns.includes(c)) problem(`${where}: partitionValues has key "${c}", which is not a partition column`);
      }
      if (options.requireStats && (body.stats === undefined || body.stats === null)) problem(`${where}: add has no stats`);
    }
  });
  if (metaCount > 1) problem(`${path} (version ${version}): ${metaCount} metaData actions; at most one per commit`);
  if (protocolCount > 1) problem(`${path} (version ${version}): ${protocolCount} protocol actions; at most one per commit`);
  for (const [app, n] of txnApps) if (n > 1) problem(`${path} (version ${version}): ${n} txn actions for appId "${app}"; at most one per commit`);
  for (const [key, n] of adds)
    if (n > 1) problem(`${path} (version ${version}): ${n} add actions for path "${key.split('\u0000')[0]}"; at most one per commit`);
  for (const [key, n] of removes)
    if (n > 1) problem(`${path} (version ${version}): ${n} remove actions for path "${key.split('\u0000')[0]}"; at most one per commit`);
  if (version === 0) {
    if (metaCount !== 1) problem(`${path}: version 0 must contain a metaData action`);
    if (protocolCount !== 1) problem(`${path}: version 0 must contain a protocol action`);
  }
  // An add for a path that is live with another DV is illegal unless the same commit removes it.
  for (const action of actions) {
    if (!isObject(action.add) || typeof action.add.path !== 'string') continue;
    const key = fileKey(action.add);
    for (const liveKey of state.files.keys()) {
      if (liveKey !== key && liveKey.split('\u0000')[0] === action.add.path && !removes.has(liveKey)) {
        problem(`${path} (version ${version}): add "${action.add.path}" while the path is live with another deletion vector and not removed in this commit`);
      }
    }
  }
}

function applyCommit(state: ReplayState, actions: Json[], version: number): void {
  for (const action of actions) {
    const kind = Object.keys(action)[0];
    const body = action[kind];
    if (!isObject(body)) continue;
    if (kind === 'add') {
      const key = fileKey(body);
      state.files.set(key, { add: body, version });
      state.tombstones.delete(key);
    } else if (kind === 'remove') {
      const key = fileKey(body);
      state.files.delete(key);
      state.tombstones.set(key, body);
    } else if (kind === 'metaData') state.metaData = body;
    else if (kind === 'protocol') state.protocol = body;
    else if (kind === 'txn') state.txns.set(String(body.appId), num(body.version));
  }
}

interface CheckpointContent {
  protocols: Json[];
  metaDatas: Json[];
  adds: Map<string, Json>;
  removes: Map<string, Json>;
  txns: Map<string, number>;
  rows: number;
}

async function readCheckpointActions(store: ObjectStore, path: string, problem: (m: string) => void): Promise<CheckpointContent | null> {
  const [hp, { compressors }] = await loadHyparquet();
  let rows: Json[];
  let present: string[];
  try {
    const file = toArrayBuffer(await store.read(path));
    const metadata = hp.parquetMetadata(file);
    present = topLevelNames(metadata.schema);
    rows = (await hp.parquetReadObjects({ file, metadata, compressors })) as Json[];
  } catch (err) {
    problem(`checkpoint ${path} cannot be read as Parquet: ${(err as Error).message}`);
    return null;
  }
  for (const required of ['add', 'remove', 'metaData', 'protocol']) {
    if (!present.includes(required)) problem(`checkpoint ${path} has no "${required}" column`);
  }
  const out: CheckpointContent = { protocols: [], metaDatas: [], adds: new Map(), removes: new Map(), txns: new Map(), rows: rows.length };
  rows.forEach((row, i) => {
    const where = `checkpoint ${path} row ${i}`;
    const set = Object.keys(row).filter((k) => row[k] !== null && row[k] !== undefined);
    if (set.length !== 1) {
      problem(`${where}: ${set.length} non-null action columns (${set.join(', ')}); exactly one expected`);
      return;
    }
    const kind = set[0];
    const body = row[kind] as Json;
    if (kind === 'commitInfo' || kind === 'cdc') problem(`${where}: a checkpoint must not hold "${kind}"`);
    else if (kind === 'protocol') out.protocols.push(body);
    else if (kind === 'metaData') out.metaDatas.push(body);
    else if (kind === 'add' || kind === 'remove') {
      checkFields(kind, body, where, problem);
      const key = fileKey(body);
      const map = kind === 'add' ? out.adds : out.removes;
      if (map.has(key)) problem(`${where}: ${kind} "${body.path}" appears twice in the checkpoint`);
      map.set(key, body);
    } else if (kind === 'txn') {
      if (out.txns.has(String(body.appId))) problem(`${where}: txn for appId "${body.appId}" appears twice`);
      out.txns.set(String(body.appId), num(body.version));
    }
  });
  if (out.protocols.length !== 1) problem(`checkpoint ${path}: ${out.protocols.length} protocol rows; exactly one expected`);
  if (out.metaDatas.length !== 1) problem(`checkpoint ${path}: ${out.metaDatas.length} metaData rows; exactly one expected`);
  return out;
}

function checkpointToReplay(cp: CheckpointContent): ReplayState {
  const state = emptyReplay();
  state.protocol = cp.protocols[0];
  state.metaData = cp.metaDatas[0];
  for (const [k, add] of cp.adds) state.files.set(k, { add, version: -1 });
  for (const [k, r] of cp.removes) state.tombstones.set(k, r);
  for (const [k, v] of cp.txns) state.txns.set(k, v);
  return state;
}

const features = (v: unknown) => (Array.isArray(v) ? [...v].map(String).sort() : null);
const protocolView = (p: Json | undefined) =>
  p && { r: num(p.minReaderVersion), w: num(p.minWriterVersion), rf: features(p.readerFeatures), wf: features(p.writerFeatures) };
const metaView = (m: Json | undefined) =>
  m && {
    id: m.id,
    provider: (m.format as Json | undefined)?.provider,
    schemaString: m.schemaString,
    partitionColumns: m.partitionColumns,
    configuration: m.configuration ?? {},
  };
const pv = (v: unknown) => Object.fromEntries(Object.entries((v as Json | null | undefined) ?? {}).map(([k, x]) => [k, x === '' ? null : x]));

function diffKeys(a: Iterable<string>, b: Iterable<string>): { missing: string[]; extra: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { missing: [...sa].filter((k) => !sb.has(k)), extra: [...sb].filter((k) => !sa.has(k)) };
}

function compareCheckpoint(path: string, cp: CheckpointContent, expected: ReplayState, problem: (m: string) => void): void {
  const { missing, extra } = diffKeys(expected.files.keys(), cp.adds.keys());
  if (missing.length)
    problem(
      `checkpoint ${path}: live files missing compared with replaying the JSON commits: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}`,
    );
  if (extra.length)
    problem(
      `checkpoint ${path}: holds adds that are not live when replaying the JSON commits: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` (+${extra.length - 5})` : ''}`,
    );
  for (const [key, { add }] of expected.files) {
    const got = cp.adds.get(key);
    if (!got) continue;
    if (num(got.size) !== num(add.size)) problem(`checkpoint ${path}: add "${add.path}" has size ${got.size}, the commits say ${add.size}`);
    if (canonicalJson(pv(got.partitionValues)) !== canonicalJson(pv(add.partitionValues))) {
      problem(
        `checkpoint ${path}: add "${add.path}" has partitionValues ${canonicalJson(got.partitionValues)}, the commits say ${canonicalJson(add.partitionValues)}`,
      );
    }
    if ((got.stats ?? null) !== null && (got.stats ?? null) !== (add.stats ?? null))
      problem(`checkpoint ${path}: add "${add.path}" has different stats than its commit`);
  }
  for (const key of cp.removes.keys()) {
    if (!expected.tombstones.has(key)) problem(`checkpoint ${path}: remove "${key.split('\u0000')[0]}" is not a tombstone when replaying the JSON commits`);
  }
  if (canonicalJson(protocolView(cp.protocols[0])) !== canonicalJson(protocolView(expected.protocol))) {
    problem(
      `checkpoint ${path}: protocol ${canonicalJson(protocolView(cp.protocols[0]))} differs from the replayed ${canonicalJson(protocolView(expected.protocol))}`,
    );
  }
  if (canonicalJson(metaView(cp.metaDatas[0])) !== canonicalJson(metaView(expected.metaData))) {
    problem(`checkpoint ${path}: metaData ${canonicalJson(metaView(cp.metaDatas[0]))} differs from the replayed ${canonicalJson(metaView(expected.metaData))}`);
  }
  if (canonicalJson(Object.fromEntries(cp.txns)) !== canonicalJson(Object.fromEntries(expected.txns))) {
    problem(
      `checkpoint ${path}: txns ${canonicalJson(Object.fromEntries(cp.txns))} differ from the replayed ${canonicalJson(Object.fromEntries(expected.txns))}`,
    );
  }
}

function compareWithSnapshot(snapshot: Snapshot, state: ReplayState, latest: number, problem: (m: string) => void): void {
  if (snapshot.version !== latest) problem(`loadSnapshot is at version ${snapshot.version}, the newest commit is ${latest}`);
  const theirs = new Map([...snapshot.state.files.values()].map((a) => [fileKey(a as unknown as Json), a]));
  const { missing, extra } = diffKeys(state.files.keys(), theirs.keys());
  if (missing.length) problem(`loadSnapshot lacks live files the independent replay has: ${missing.slice(0, 5).join(', ')}`);
  if (extra.length) problem(`loadSnapshot has live files the independent replay does not: ${extra.slice(0, 5).join(', ')}`);
  for (const [key, { add }] of state.files) {
    const a = theirs.get(key);
    if (a && (a.size !== num(add.size) || canonicalJson(pv(a.partitionValues)) !== canonicalJson(pv(add.partitionValues)))) {
      problem(`loadSnapshot's add "${add.path}" differs in size or partitionValues from the log`);
    }
  }
  const txns = Object.fromEntries([...snapshot.state.txns.values()].map((t) => [t.appId, t.version]));
  if (canonicalJson(txns) !== canonicalJson(Object.fromEntries(state.txns)))
    problem(`loadSnapshot txns ${canonicalJson(txns)} differ from the replay ${canonicalJson(Object.fromEntries(state.txns))}`);
  if (canonicalJson(protocolView(snapshot.protocol as unknown as Json)) !== canonicalJson(protocolView(state.protocol)))
    problem('loadSnapshot protocol differs from the replay');
  if (canonicalJson(metaView(snapshot.metadata as unknown as Json)) !== canonicalJson(metaView(state.metaData)))
    problem('loadSnapshot metaData differs from the replay');
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// DuckDB cross-check
// ---------------------------------------------------------------------------------------------------

/** What `duckdbCheck` compared. */
export interface DuckdbReport {
  files: number;
  rows: number;
  /** Numeric column sums compared (file × column). */
  sums: number;
  problems: string[];
}

const INTEGER_TYPES = new Set(['byte', 'short', 'integer', 'long']);
const FLOAT_TYPES = new Set(['float', 'double']);
const DECIMAL_RE = /^decimal\((\d+),\s*(\d+)\)$/;

/** Text of a DuckDB decimal/integer as an unscaled bigint at `scale`. */
function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const [int, frac = ''] = text.replace(/^[-+]/, '').split('.');
  const digits = BigInt(int + frac.padEnd(scale, '0').slice(0, scale));
  return negative ? -digits : digits;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Read every live data file of a snapshot with DuckDB and compare, per file: the row count with
 * `stats.numRecords` and with Sluice's reader; per data column the non-null count; per numeric column
 * the SUM with what Sluice's reader returns for that file; integer min/max with the stats bounds.
 * DuckDB only reads (from a temporary copy of each file).
 *
 * @param store store rooted at the table
 * @param snapshot the version to check
 * @returns counts and problems (empty when everything matches)
 */
export async function duckdbCheck(store: ObjectStore, snapshot: Snapshot): Promise<DuckdbReport> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const problems: string[] = [];
  const report: DuckdbReport = { files: 0, rows: 0, sums: 0, problems };
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-duckdb-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const dataFields = snapshot.schema.fields.filter((f) => !snapshot.partitionColumns.includes(f.name));
    const files = [...snapshot.state.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const [i, file] of files.entries()) {
      const where = `data file "${file.path}"`;
      const local = nodePath.join(dir, `f${i}.parquet`);
      await writeFile(local, await store.read(decodeURIComponent(file.path)));
      const source = `read_parquet('${local.replace(/'/g, "''")}')`;
      // Columns DuckDB sees in the file.
      const described = (await connection.runAndReadAll(`SELECT column_name FROM (DESCRIBE SELECT * FROM ${source})`)).getRowObjectsJson();
      const fileColumns = described.map((r) => String(r.column_name));
      for (const p of snapshot.partitionColumns) if (fileColumns.includes(p)) problems.push(`${where}: DuckDB sees partition column "${p}" in the file`);
      const present = dataFields.filter((f) => fileColumns.includes(f.name));
      const selects = ['CAST(count(*) AS VARCHAR) AS "n"'];
      present.forEach((f, c) => {
        const col = quoteIdent(f.name);
        selects.push(`CAST(count(${col}) AS VARCHAR) AS "nn${c}"`);
        if (typeof f.type !== 'string') return;
        if (INTEGER_TYPES.has(f.type) || DECIMAL_RE.test(f.type)) {
          selects.push(`CAST(sum(${col}) AS VARCHAR) AS "s${c}"`, `CAST(min(${col}) AS VARCHAR) AS "lo${c}"`, `CAST(max(${col}) AS VARCHAR) AS "hi${c}"`);
        } else if (FLOAT_TYPES.has(f.type)) {
          selects.push(`CAST(sum(CAST(${col} AS DOUBLE)) AS VARCHAR) AS "s${c}"`);
        }
      });
      const duck = (await connection.runAndReadAll(`SELECT ${selects.join(', ')} FROM ${source}`)).getRowObjectsJson()[0] as Record<string, string | null>;
      const duckRows = Number(duck.n);
      report.files++;
      report.rows += duckRows;

      // Sluice's reader, this file only.
      const ours: Record<string, unknown[]> = Object.fromEntries(present.map((f) => [f.name, []]));
      let ourRows = 0;
      for await (const batch of scanTable(snapshot, { files: [file as AddFile] })) {
        ourRows += batch.numRows;
        for (const f of present) for (const value of readValues(batch.getChild(f.name)!, f.type)) ours[f.name].push(value);
      }
      if (ourRows !== duckRows) problems.push(`${where}: DuckDB reads ${duckRows} rows, Sluice's reader ${ourRows}`);
      const stats = parseStatsText(file.stats);
      if (stats && typeof stats.numRecords === 'number' && stats.numRecords !== duckRows)
        problems.push(`${where}: DuckDB reads ${duckRows} rows, stats.numRecords says ${stats.numRecords}`);

      present.forEach((f, c) => {
        const values = ours[f.name];
        const nonNull = values.filter((v) => v !== null && v !== undefined);
        if (String(nonNull.length) !== duck[`nn${c}`])
          problems.push(`${where}: column "${f.name}": DuckDB counts ${duck[`nn${c}`]} non-null values, Sluice's reader ${nonNull.length}`);
        const type = f.type as DeltaType;
        if (typeof type !== 'string') return;
        const dec = DECIMAL_RE.exec(type);
        if (INTEGER_TYPES.has(type) || dec) {
          const scale = dec ? Number(dec[2]) : 0;
          const ourSum = nonNull.reduce<bigint>((s, v) => s + BigInt(v as number | bigint), 0n);
          report.sums++;
          if (nonNull.length === 0) {
            if (duck[`s${c}`] !== null) problems.push(`${where}: column "${f.name}": DuckDB SUM is ${duck[`s${c}`]} over no values`);
            return;
          }
          const duckSum = unscaled(String(duck[`s${c}`]), scale);
          if (duckSum !== ourSum) problems.push(`${where}: column "${f.name}": DuckDB SUM ${duck[`s${c}`]} (unscaled ${duckSum}), Sluice's reader ${ourSum}`);
          // Integer bounds in stats are exact: compare with DuckDB's min/max where JSON numbers are exact.
          const lo = (stats?.minValues as Json | undefined)?.[f.name];
          const hi = (stats?.maxValues as Json | undefined)?.[f.name];
          if (!dec && typeof lo === 'number' && Number.isSafeInteger(lo) && String(lo) !== duck[`lo${c}`])
            problems.push(`${where}: column "${f.name}": stats min ${lo}, DuckDB min ${duck[`lo${c}`]}`);
          if (!dec && typeof hi === 'number' && Number.isSafeInteger(hi) && String(hi) !== duck[`hi${c}`])
            problems.push(`${where}: column "${f.name}": stats max ${hi}, DuckDB max ${duck[`hi${c}`]}`);
        } else if (FLOAT_TYPES.has(type)) {
          const finite = nonNull.map(Number);
          const ourSum = finite.reduce((s, v) => s + v, 0);
          report.sums++;
          if (nonNull.length === 0) return;
          const duckSum = Number(duck[`s${c}`]);
          const tolerance = 1e-9 * Math.max(1, Math.abs(ourSum), ...finite.map(Math.abs));
          if (!(Math.abs(duckSum - ourSum) <= tolerance || (Number.isNaN(duckSum) && Number.isNaN(ourSum))))
            problems.push(`${where}: column "${f.name}": DuckDB SUM ${duckSum}, Sluice's reader ${ourSum}`);
        }
      });
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
  return report;
}
