/**
 * Protocol gate: what this implementation can read and write. A table asking for more is refused
 * with an error naming the version or feature, before any data file is touched.
 */
import type { Metadata, Protocol } from './actions';
import { columnMappingMode } from './column-mapping';
import { UnsupportedProtocolError } from './errors';
import type { DeltaStruct, DeltaType } from './schema';

/** Highest reader version implemented without table features (2: column mapping). */
export const MAX_READER_VERSION = 2;
/** Highest writer version implemented without table features. */
export const MAX_WRITER_VERSION = 2;
/**
 * Reader features this reader implements, or that change nothing for a reader. Variant columns are
 * read as their JSON text when stored unshredded; shredding is its own feature, not among these.
 */
export const SUPPORTED_READER_FEATURES = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'typeWidening',
  'typeWidening-preview',
  'v2Checkpoint',
  'vacuumProtocolCheck',
  'variantType',
  'variantType-preview',
]);
/** Writer features this writer honours. */
export const SUPPORTED_WRITER_FEATURES = new Set(['appendOnly', 'invariants', 'timestampNtz', 'vacuumProtocolCheck']);
/**
 * Writer features a rewrite that keeps every row's values (optimize with `dataChange=false`, a
 * checkpoint, vacuum) honours without implementing them: they constrain or describe new values
 * (constraints, generated and identity columns, change data feed), or are implemented here
 * (column mapping: files are written with physical names and field ids; deletion vectors: optimize
 * drops the rows they mark, vacuum and checkpoints keep them).
 */
const MAINTENANCE_WRITER_FEATURES = new Set([
  ...SUPPORTED_WRITER_FEATURES,
  'checkConstraints',
  'generatedColumns',
  'identityColumns',
  'changeDataFeed',
  'columnMapping',
  'deletionVectors',
]);
/** Writer versions below table features: 3 constraints, 4 CDF and generated columns, 5 column mapping, 6 identity columns. */
const MAINTENANCE_WRITER_VERSION = 6;
/** The protocol Sluice creates tables with (what Spark creates by default). */
export const CREATE_PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

/**
 * Refuse tables this reader cannot read correctly.
 *
 * @param protocol the table's protocol action
 * @param metadata the table's metadata (column mapping mode lives in its configuration)
 * @param table table URL for the message
 */
export function checkReadSupport(protocol: Protocol, metadata: Metadata | undefined, table: string): void {
  const reader = protocol.minReaderVersion;
  if (reader === 3) {
    refuseUnknownFeatures(table, 'reader', protocol.readerFeatures, SUPPORTED_READER_FEATURES, 'Sluice', 'refusing to read it rather than return wrong rows');
  } else if (reader > MAX_READER_VERSION || reader < 1 || !Number.isInteger(reader)) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} needs reader version ${reader} (minReaderVersion=${reader}); Sluice reads versions 1–2 ` +
        `and version 3 with features ${[...SUPPORTED_READER_FEATURES].join(', ')}`,
    );
  }
  // Checked whatever the protocol says, so that an unknown mode is never read as "none".
  if (metadata) columnMappingMode(metadata, table);
}

/**
 * Refuse to write tables whose writer protocol or active constraints this writer cannot honour.
 *
 * @param protocol the table's protocol action
 * @param metadata the table's metadata
 * @param schema the parsed table schema
 * @param table table URL for the message
 */
export function checkWriteSupport(protocol: Protocol, metadata: Metadata, schema: DeltaStruct, table: string): void {
  checkReadSupport(protocol, metadata, table);
  const mode = columnMappingMode(metadata, table);
  if (mode !== 'none') {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} uses column mapping (delta.columnMapping.mode=${mode}); Sluice reads, optimizes, checkpoints and vacuums it but does not append to it; refusing to write`,
    );
  }
  if (protocol.minWriterVersion === 7 && protocol.writerFeatures?.includes('deletionVectors')) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} has writer feature deletionVectors (minWriterVersion=7); ` +
        'Sluice reads, optimizes, vacuums and checkpoints such a table but does not write new data to it; refusing to write',
    );
  }
  checkWriterProtocol(protocol, table, SUPPORTED_WRITER_FEATURES, MAX_WRITER_VERSION, { who: 'Sluice', does: 'writes', refusal: 'refusing to write' });
  const invariant = findFieldMetadata(schema, 'delta.invariants');
  if (invariant) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} has a column invariant on "${invariant}" (delta.invariants), which Sluice cannot evaluate; refusing to write`,
    );
  }
  for (const key of ['delta.generationExpression', 'delta.identity.start', 'CURRENT_DEFAULT']) {
    const column = findFieldMetadata(schema, key);
    if (column)
      throw new UnsupportedProtocolError(
        `delta protocol: column "${column}" of table ${table} uses ${key}, which Sluice does not implement; refusing to write`,
      );
  }
  const constraint = Object.keys(metadata.configuration ?? {}).find((k) => k.startsWith('delta.constraints.'));
  if (constraint)
    throw new UnsupportedProtocolError(`delta protocol: table ${table} has CHECK constraint ${constraint}, which Sluice does not implement; refusing to write`);
}

/**
 * Refuse maintenance (optimize, checkpoint, vacuum) of tables whose writer protocol a rewrite that keeps
 * every row's values cannot honour.
 *
 * @param protocol the table's protocol action
 * @param metadata the table's metadata
 * @param table table URL for the message
 */
export function checkMaintenanceSupport(protocol: Protocol, metadata: Metadata, table: string): void {
  checkReadSupport(protocol, metadata, table);
  checkWriterProtocol(protocol, table, MAINTENANCE_WRITER_FEATURES, MAINTENANCE_WRITER_VERSION, {
    who: "Sluice's maintenance",
    does: 'maintains',
    refusal: 'refusing to change it',
  });
}

function refuseUnknownFeatures(table: string, kind: 'reader' | 'writer', listed: string[] | undefined, known: Set<string>, who: string, refusal: string): void {
  const unknown = (listed ?? []).filter((f) => !known.has(f));
  if (unknown.length === 0) return;
  throw new UnsupportedProtocolError(
    `delta protocol: table ${table} needs ${kind} feature${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
      `(min${kind === 'reader' ? 'Reader' : 'Writer'}Version=${kind === 'reader' ? 3 : 7}), which ${who} does not implement; ${refusal}`,
  );
}

function checkWriterProtocol(
  protocol: Protocol,
  table: string,
  features: Set<string>,
  maxVersion: number,
  words: { who: string; does: string; refusal: string },
): void {
  const writer = protocol.minWriterVersion;
  if (writer === 7) {
    refuseUnknownFeatures(table, 'writer', protocol.writerFeatures, features, words.who, words.refusal);
  } else if (writer > maxVersion || writer < 1 || !Number.isInteger(writer)) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} needs writer version ${writer} (minWriterVersion=${writer}); Sluice ${words.does} versions 1–${maxVersion} ` +
        `and version 7 with features ${[...features].join(', ')}; ${words.refusal}`,
    );
  }
}

function findFieldMetadata(type: DeltaType, key: string, prefix = ''): string | null {
  if (typeof type === 'string') return null;
  if (type.type === 'array') return findFieldMetadata(type.elementType, key, prefix);
  if (type.type === 'map') return findFieldMetadata(type.keyType, key, prefix) ?? findFieldMetadata(type.valueType, key, prefix);
  for (const field of type.fields) {
    const path = prefix ? `${prefix}.${field.name}` : field.name;
    if (field.metadata && key in field.metadata) return path;
    const inner = findFieldMetadata(field.type, key, path);
    if (inner) return inner;
  }
  return null;
}
